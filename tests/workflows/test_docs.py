"""The definition format document stays true: its complete example is the shipped file."""
from __future__ import annotations

import re
from pathlib import Path

from workflows.loader import load_text, spec_digest

ROOT = Path(__file__).resolve().parents[2]


def test_complete_example_matches_the_shipped_definition():
    doc = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    example = next(b for b in blocks if b.startswith("key: micro_wish"))
    spec, problems = load_text(example, "docs/definitions.md")
    assert problems == []
    shipped = (ROOT / "workflows" / "definitions" / "micro_wish.yaml").read_text(encoding="utf-8")
    assert spec.digest == spec_digest(shipped)
