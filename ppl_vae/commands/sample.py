"""``ppl-vae sample``: a figure of samples of a trained run, chosen by what the run declares."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from ppl_vae.commands.common import LONG_REQUEST_SECONDS, refuse_long, require_positive, trained, writable_output
from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import ConfigError, RunError
from ppl_vae.core.registry import SAMPLE_FIGURES
from ppl_vae.data.checks import check_labels
from ppl_vae.infer.predictive import sampling_seconds
from ppl_vae.report.context import chosen
from ppl_vae.report.samples import DEFAULT_SAMPLES, SampleRequest
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun

SAMPLING_LIMIT_SECONDS = LONG_REQUEST_SECONDS  # longer sample requests need confirming (yes=True, --yes)


def refuse_long_sampling(run: TrainedRun, n: int, label: int | None, confirmed: bool) -> None:
    """A RunError when drawing ``n`` samples would take longer than :data:`SAMPLING_LIMIT_SECONDS` (an
    autoregressive model draws pixel by pixel) and the user has not confirmed."""
    shape = tuple(run.info["shapes"]["x_shape"])
    labels = None if run.view.num_classes is None else torch.full((n,), label or 0, device=run.pair.device)
    estimate = sampling_seconds(run.pair, shape, n, labels)
    doing = f"drawing {n} samples from {run.directory}"
    refuse_long(estimate, doing, confirmed, "ask for fewer with --num-samples", SAMPLING_LIMIT_SECONDS)


def sample(
    run: TrainedRun | str | Path,
    num_samples: int | None = None,
    label: int | None = None,
    seed: int = 0,
    output: str | Path | None = None,
    yes: bool = False,
    device: str | None = None,
) -> tuple[Path, str]:
    """Draw the first sample figure that applies to ``run`` (completions of test inputs, the style-by-class grid
    or the draws of one class, draws from the prior; for vector data, the draws themselves in a ``.npz``) into
    ``output`` (default ``RUN/samples[-labelY]-seedS.png``, or ``.npz``); returns (the file, what it holds)."""
    require_positive(num_samples, "num_samples")
    output = writable_output(Path(output)) if output is not None else None
    run = trained(run, device)
    view = run.view
    if label is not None:
        if view.model.conditioning is not Conditioning.LABELS:
            raise ConfigError(f"a label needs a label-conditioned model; {run.directory} has none")
        check_labels(torch.tensor([label]), view.num_classes, what="the label")
    figures = chosen(SAMPLE_FIGURES, view)
    if not figures:
        raise RunError(f"{run.directory} has no sample figure: it generates outputs y of inputs that are not images")
    name, draw = next(iter(figures.items()))
    refuse_long_sampling(run, num_samples or DEFAULT_SAMPLES, label, yes)
    suffix = SAMPLE_FIGURES.metadata(name).get("suffix", ".png")
    if output is not None and output.suffix != suffix:
        raise ConfigError(f"the output {output} must be a {suffix} file: the {name.replace('_', ' ')} writes one")
    label_part = "" if label is None else f"-label{label}"
    path = output or run.directory / f"samples{label_part}-seed{seed}{suffix}"
    with RunLock(run.directory, "sample") if output is None else contextlib.nullcontext():
        what = draw(run, SampleRequest(num_samples, label, seed, path))
    return path, what
