"""``ppl-vae gaps``: the approximation and amortization gaps of a trained run's guide (``ppl_vae.evaluation.gaps``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ppl_vae.commands.common import (
    LONG_CHECK_SECONDS,
    output_stem,
    refuse_long,
    require_inference,
    require_positive,
    split_of,
    trained,
)
from ppl_vae.core.errors import ConfigError, MeasureError, RunError
from ppl_vae.evaluation.gaps import GapSettings, InferenceGaps, estimated_seconds, inference_gaps, require_family
from ppl_vae.report.gaps import gaps_files, write_gaps
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def gaps(
    run: TrainedRun | str | Path,
    iw_samples: int = 1000,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    max_steps: int = 3000,
    learning_rate: float = 1e-2,
    yes: bool = False,
    device: str | None = None,
) -> tuple[dict[str, Any], InferenceGaps, list[Path]]:
    """Per example of ``split`` (or of ``limit`` random ones): log p̂(x), the amortized ELBO and the ELBO of q* optimized
    per example in the guide's family (at most ``max_steps`` Adam steps of ``learning_rate``), from K = ``iw_samples``
    draws each; writes ``gaps-<split>-...-K<K>.{json,csv,png}`` into the run directory, all or none. Returns (the
    JSON's content, the gaps, the files written).

    Refuses, in one sentence, a run without latents, an implicit model, a guide that is not a density or not an
    amortized family, and (unless ``yes``) a request whose estimate
    (:func:`~ppl_vae.evaluation.gaps.estimated_seconds`: a few examples optimized first, a few steps timed) exceeds
    :data:`~ppl_vae.commands.common.LONG_CHECK_SECONDS`.
    """
    require_positive(iw_samples, "iw_samples")
    require_positive(max_steps, "max_steps")
    if not learning_rate > 0:
        raise ConfigError(f"the learning rate must be positive, got {learning_rate!r}")
    run = trained(run, device)
    require_inference(run, "gaps")
    try:
        require_family(run.pair)
    except MeasureError as error:
        raise RunError(f"{run.directory}: {error}") from None
    data, x, y, which = split_of(run, split, limit, seed)
    settings = GapSettings(iw_samples, learning_rate=learning_rate, max_steps=max_steps, seed=seed)
    estimate = estimated_seconds(run.pair, x, y, settings)
    doing = f"measuring the gaps of {len(x)} examples of {run.directory}"
    refuse_long(estimate, doing, yes, "ask for fewer examples with --limit or fewer --max-steps", LONG_CHECK_SECONDS)
    stem = output_stem("gaps", split, limit, seed, K=iw_samples, steps=max_steps, lr=learning_rate)
    with RunLock(run.directory, "gaps"):
        start = time.perf_counter()
        result = inference_gaps(run.pair, x, y, settings)
        extra = {
            "run": str(run.directory),
            "split": split,
            "examples": which,
            "data": data.description,
            "guide": run.pair.guide_name,
            "learning_rate": learning_rate,
            "max_steps": max_steps,
            "seconds": round(time.perf_counter() - start, 2),
        }
        summary = write_gaps(result, run.directory, extra, stem)
    written = [run.directory / name for name in gaps_files(stem) if (run.directory / name).exists()]
    return summary, result, written
