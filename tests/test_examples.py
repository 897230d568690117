"""Every example runs to the end with its fast settings (a smoke test of what users paste)."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted(p for p in (pathlib.Path(__file__).resolve().parents[1] / "examples").glob(
    "*.py") if not p.name.startswith("_"))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path):
    args = [sys.executable, str(path)]
    if "--fast" in path.read_text():
        args.append("--fast")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=path.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
