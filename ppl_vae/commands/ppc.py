"""``ppl-vae ppc``: posterior predictive checks of a trained run on a split (ArviZ)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ppl_vae.commands.common import output_stem, require_positive, split_of, trained
from ppl_vae.core.errors import RunError
from ppl_vae.core.registry import STATISTICS
from ppl_vae.evaluation.ppc import PredictiveCheck, posterior_predictive_check, prior_predictive_check
from ppl_vae.report.ppc import check_files, write_check
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def ppc(
    run: TrainedRun | str | Path,
    num_samples: int = 100,
    statistics: list[str] | None = None,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    device: str | None = None,
    prior: bool = False,
) -> tuple[dict[str, Any], PredictiveCheck, list[Path]]:
    """Draw ``num_samples`` replicates of every example of ``split`` (or of ``limit`` random ones) and compare
    the ``statistics`` (registered names; default all) of replicated and observed data; write
    ``ppc-<split>-...-S<S>.*`` (netCDF, JSON, figures; the chosen statistics' names end it) into the run
    directory, all or none. With ``prior``, the
    replicates are draws of p(x), not of the posterior (the prior predictive check), written as
    ``ppc_prior-<split>-...``. Returns (the JSON's content, the check, the files written)."""
    require_positive(num_samples, "num_samples")
    run = trained(run, device)  # loads the run's plugins first: their statistics can be named
    chosen = {name: STATISTICS.get(name) for name in statistics} if statistics else None
    if not run.pair.model_contract.generates_images:
        raise RunError(
            f"{run.directory} predicts outputs y, not whole data points x: posterior predictive checks do not apply"
        )
    if not run.pair.model_contract.density and not prior:
        raise RunError(
            f"{run.directory} holds an implicit model (a generator without an encoder): it has no posterior to "
            "check; compare its samples with ppl-vae quality"
        )
    _, x, y, which = split_of(run, split, limit, seed)
    stem = output_stem("ppc_prior" if prior else "ppc", split, limit, seed, S=num_samples)
    if chosen:  # a check of some statistics never replaces one of all, nor of others
        stem += "-" + "-".join(sorted(chosen))
    check_of = prior_predictive_check if prior else posterior_predictive_check
    with RunLock(run.directory, "ppc"):
        start = time.perf_counter()
        check = check_of(run.pair, x, y, num_samples, chosen, run.view.image_shape, seed=seed)
        extra = {"split": split, "examples": which, "num_samples": num_samples, "group": check.group}
        extra["seconds"] = round(time.perf_counter() - start, 2)
        summary = write_check(check, run.directory, extra, stem)
    written = [run.directory / name for name in check_files(stem) if (run.directory / name).exists()]
    return summary, check, written
