"""The engine stands alone: importing it pulls in no web framework, database or queue."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(f"workflows.{p.stem}" for p in (ROOT / "workflows").glob("*.py")
                 if p.stem != "__init__") + ["workflows.kinds"]

CHECK = f"""
import sys
import workflows, {", ".join(MODULES)}
leaked = {{'flask', 'sqlalchemy', 'rq', 'redis', 'webapp', 'wtforms', 'forms'}} & {{
    m.split('.')[0] for m in sys.modules}}
assert not leaked, leaked
"""


def test_engine_imports_no_web_code():
    assert "workflows.engine" in MODULES and "workflows.diagram" in MODULES
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
