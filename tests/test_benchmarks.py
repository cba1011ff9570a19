"""Every benchmark script runs in its tiny mode, so that none can rot."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_script_is_listed_here():
    assert SCRIPTS == [
        "adversarial_table.py",
        "autoencoder_table.py",
        "dreg_variance.py",
        "flow_backends.py",
        "flow_cost.py",
        "iw_speed.py",
        "likelihood_table.py",
        "ood_table.py",
        "pixel_vae_collapse.py",
        "ppc_cost.py",
        "quadrant_table.py",
        "scaling.py",
        "semi_supervised_table.py",
        "train_throughput.py",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_tiny_mode_runs_and_prints_its_figures(script, tmp_path, monkeypatch, capsys):
    argv = [str(BENCHMARKS / script), "--tiny"]
    if script not in (
        "dreg_variance.py",
        "flow_backends.py",
        "flow_cost.py",
        "iw_speed.py",
        "ppc_cost.py",
        "scaling.py",
        "train_throughput.py",
    ):
        argv += ["--out", str(tmp_path / "runs")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    with pytest.raises(SystemExit) as done:
        runpy.run_path(argv[0], run_name="__main__")
    assert done.value.code in (0, None)
    expected = {
        "adversarial_table.py": "AAE, mixture prior",
        "autoencoder_table.py": "squared error per image",
        "likelihood_table.py": "gated PixelCNN",
        "ood_table.py": "AUROC typ",
        "pixel_vae_collapse.py": "PixelVAE, 1 gated layer ",
        "iw_speed.py": "x the bound",
        "dreg_variance.py": "encoder",
        "flow_cost.py": "flow / diagonal importance-weighting time",
        "flow_backends.py": "pyro-iaf",
        "quadrant_table.py": "negative conditional log-likelihood of the output",
        "ppc_cost.py": "whole check:",
        "scaling.py": "2 process(es):",
        "semi_supervised_table.py": "test error as a ratio of the error of the classifier on the labels alone",
        "train_throughput.py": "conv: hand-written PyTorch",
    }[script]
    assert expected in capsys.readouterr().out


def test_the_gpu_check_parses_and_plans_every_step_with_a_summary_table(tmp_path):
    script = BENCHMARKS / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    environment = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(script), "--dry-run"], capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1].strip() for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows == ["step", "install", "cuda_tests", "train_throughput", "iw_speed", "ppc_cost", "scaling"]
    assert "train_throughput.py --device cuda" in done.stdout and "-k cuda" in done.stdout
