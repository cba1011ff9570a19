"""Every benchmark script runs in its tiny mode, so that none can rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_script_is_listed_here():
    assert SCRIPTS == ["iw_speed.py", "quadrant_table.py", "train_throughput.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_tiny_mode_runs_and_prints_its_figures(script, tmp_path):
    argv = [sys.executable, str(BENCHMARKS / script), "--tiny"]
    if script == "quadrant_table.py":
        argv += ["--out", str(tmp_path / "runs")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = {
        "iw_speed.py": "x the bound",
        "quadrant_table.py": "negative conditional log-likelihood of the output",
        "train_throughput.py": "conv: hand-written PyTorch",
    }[script]
    assert expected in done.stdout, done.stdout
