"""The shipped processes read in English wherever a person meets them in English."""
from __future__ import annotations

import pytest

from tests.workflows.conftest import DEFINITIONS, shipped

KEYS = sorted(p.stem for p in DEFINITIONS.glob("*.yaml"))


@pytest.mark.parametrize("key", KEYS)
def test_every_field_and_choice_has_its_english_label(key):
    spec = shipped(key)
    missing = []
    for form in [spec.start.form] + [step.form for step in spec.steps]:
        for field in form.fields:
            if not field.label_en:
                missing.append(field.name)
            missing += [f"{field.name}={c.value}" for c in (field.choices or ())
                        if not c.label_en]
    assert not missing, f"{key}: no English label for {missing}"


@pytest.mark.parametrize("key", KEYS)
def test_every_step_and_end_has_its_english_name(key):
    spec = shipped(key)
    assert spec.name_en
    missing = [s.id for s in spec.steps if not s.name_en] + [e.id for e in spec.ends
                                                             if not e.name_en]
    assert not missing, f"{key}: no English name for {missing}"
