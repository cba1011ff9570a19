"""``ppl-vae sbc``: simulation-based calibration of a trained run's guide (``ppl_vae.evaluation.sbc``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ppl_vae.commands.common import LONG_CHECK_SECONDS, refuse_long, require_inference, require_positive, trained
from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import ConfigError
from ppl_vae.evaluation.sbc import CalibrationRanks, simulation_based_calibration
from ppl_vae.report.sbc import sbc_files, write_sbc
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun

PILOT_SIMULATIONS = 20  # simulations timed before a long request is refused


def sbc(
    run: TrainedRun | str | Path,
    num_simulations: int = 1000,
    num_draws: int = 100,
    proposals: int = 1000,
    seed: int = 0,
    yes: bool = False,
    device: str | None = None,
) -> tuple[dict[str, Any], CalibrationRanks, list[Path]]:
    """Simulation-based calibration of ``run``'s guide: M = ``num_simulations`` draws (z*, x) of the model, the ranks
    of z* among L = ``num_draws`` draws of q(z | x) and of the posterior importance-resampled from K = ``proposals``
    draws of q (0: not computed); writes ``sbc-M<M>-L<L>-K<K>[-seedS].{nc,json}`` and ``..._ecdf.png`` into the run
    directory, all or none. A label-conditioned model is simulated with labels drawn uniformly over its classes.
    Returns (the JSON's content, the ranks, the files written).

    Refuses, in one sentence, a run without latents, an implicit model, a guide that is not a density, and
    (unless ``yes``) a request whose estimated time, from :data:`PILOT_SIMULATIONS` timed simulations, exceeds
    :data:`~ppl_vae.commands.common.LONG_CHECK_SECONDS`.
    """
    require_positive(num_simulations, "num_simulations")
    require_positive(num_draws, "num_draws")
    if not isinstance(proposals, int) or isinstance(proposals, bool) or proposals < 0:
        raise ConfigError(f"proposals must be a whole number of at least 0, got {proposals!r}")
    run = trained(run, device)
    require_inference(run, "sbc")
    y = None
    if run.pair.model_contract.conditioning is Conditioning.LABELS:
        generator = torch.Generator().manual_seed(seed)
        y = torch.randint(0, run.view.num_classes, (num_simulations,), generator=generator)
    pilot = min(num_simulations, PILOT_SIMULATIONS)
    start = time.perf_counter()
    simulation_based_calibration(run.pair, pilot, num_draws, proposals, None if y is None else y[:pilot], seed=seed)
    estimate = (time.perf_counter() - start) * num_simulations / pilot
    doing = f"calibrating {run.directory} with {num_simulations} simulations (L = {num_draws}, K = {proposals})"
    refuse_long(estimate, doing, yes, "ask for fewer with --simulations, --draws or --proposals", LONG_CHECK_SECONDS)
    stem = f"sbc-M{num_simulations}-L{num_draws}-K{proposals}" + (f"-seed{seed}" if seed else "")
    with RunLock(run.directory, "sbc"):
        start = time.perf_counter()
        result = simulation_based_calibration(run.pair, num_simulations, num_draws, proposals, y, seed=seed)
        extra = {
            "run": str(run.directory),
            "num_simulations": num_simulations,
            "num_draws": num_draws,
            "proposals": proposals,
            "seed": seed,
            "seconds": round(time.perf_counter() - start, 2),
        }
        summary = write_sbc(result, run.directory, extra, stem)
    written = [run.directory / name for name in sbc_files(stem) if (run.directory / name).exists()]
    return summary, result, written
