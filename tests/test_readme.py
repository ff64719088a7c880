"""The README's promises that a script can check."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", part, flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_command = _commands("Test (one command)")[0]
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_demo_user():
    from webapp.demo import USERS

    text = (ROOT / "README.md").read_text()
    for user in USERS:
        assert f"| `{user.username}` |" in text


def test_run_command_migrates_seeds_and_runs():
    run = _commands("Set up and run (one command)")[0]
    assert "db upgrade" in run and "seed-demo" in run and run.rstrip().endswith("run")
