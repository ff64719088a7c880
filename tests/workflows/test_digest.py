"""The definition digest: same content, same version; any change, a new version."""
from __future__ import annotations

from pathlib import Path

import pytest

from workflows.loader import load_file, load_text, spec_digest

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
TEXT = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")


def test_unchanged_text_same_digest():
    spec, _ = load_text(TEXT, "a.yaml")
    again, _ = load_text(TEXT, "b.yaml")
    assert spec.digest == again.digest == spec_digest(TEXT) == spec_digest(spec)
    assert len(spec.digest) == 64


@pytest.mark.parametrize("old, new", [
    ("max_length: 40", "max_length: 41"),
    ("name: 微心愿", "name: 微心愿活动"),
    ("after: 30d, go: expired", "after: 31d, go: expired"),
])
def test_changed_content_new_digest(old, new):
    assert spec_digest(TEXT.replace(old, new)) != spec_digest(TEXT)


def test_comments_and_layout_do_not_make_a_new_version():
    reformatted = "# 改了注释\n" + TEXT.replace("key: micro_wish\n", "key:   micro_wish  \n")
    assert spec_digest(reformatted) == spec_digest(TEXT)


def test_unreadable_text_still_has_a_digest():
    assert spec_digest("key: [") != spec_digest("key: [[")


def test_every_shipped_definition_loads_without_problems():
    keys = []
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        spec, problems = load_file(path)
        assert problems == [], [str(p) for p in problems]
        assert spec.key == path.stem
        keys.append(spec.key)
    assert keys == ["micro_wish", "retreat_nomination", "station_master",
                    "training_registration", "worker_demand"]
