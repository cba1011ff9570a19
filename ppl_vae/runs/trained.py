"""A trained run loaded back: its pair with the kept parameters, on any device, and its data rebuilt exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ppl_vae.core.config import Experiment
from ppl_vae.core.devices import DTYPES, resolve_device
from ppl_vae.core.errors import CheckpointError, RunError
from ppl_vae.data.containers import Dataset
from ppl_vae.data.transforms import to_floating
from ppl_vae.evaluation.labels import estimate_log_likelihood
from ppl_vae.infer.pair import Pair
from ppl_vae.report.context import RunView
from ppl_vae.runs.directory import CHECKPOINT, read_run_experiment, read_run_info
from ppl_vae.runs.prepare import build_pair, load_data, place
from ppl_vae.train.checkpoint import load_checkpoint, load_state


@dataclass
class TrainedRun:
    """A run's experiment and its pair with the best parameters loaded; its data loads on demand.

    ``info`` is the run's ``run.json``; ``view`` what report hooks and sample figures read.
    """

    directory: Path
    experiment: Experiment
    pair: Pair
    info: dict[str, Any]
    view: RunView
    _data: Dataset | None = None
    _images: Dataset | None = None

    def _load(self) -> None:
        training = self.experiment.training
        dtype = DTYPES[training.dtype]
        raw, data, _, _ = load_data(
            self.experiment.sections["data"],
            self.pair.model_contract,
            training.seed,
            dtype,
            self.info["data"],
            str(self.directory),
        )
        self._data, self._images = place(data, self.pair.device), to_floating(raw, dtype)

    def data(self) -> Dataset:
        """The run's dataset, rebuilt as it was trained (pinned options, same transforms), on the pair's
        device; refused in one sentence when the files on disk no longer match the run's fingerprint."""
        if self._data is None:
            self._load()
        return self._data

    def images(self) -> Dataset:
        """The same data before binarization: values k / (levels - 1) in the run's dtype, on the CPU (the real
        images that samples are compared with, whatever the likelihood made of them)."""
        if self._images is None:
            self._load()
        return self._images

    def log_likelihood(self, x: Tensor, y: Tensor | None = None, num_samples: int = 1000, seed: int = 0) -> Tensor:
        """Per-example log-likelihood estimate (N,), nats: importance-weighted with K = ``num_samples``
        (exact for a model without latents; log p(x), the label summed out, for a model whose label is latent); see
        ``ppl_vae.evaluation.likelihood`` and ``ppl_vae.evaluation.labels``."""
        estimate = estimate_log_likelihood(self.pair, x, y, num_samples, self.view.num_classes, seed)
        return estimate.log_likelihood


def shapes_from(info: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in info["shapes"].items()}


def load_trained(run_dir: Path, device: str | None = None) -> TrainedRun:
    """Rebuild a run's pair from experiment.toml and run.json and load the kept (best) parameters.

    ``device``: where to put it (default ``auto``); any device can load a run trained on any other.
    """
    run_dir = Path(run_dir)
    experiment = read_run_experiment(run_dir)
    info = read_run_info(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT)
    if not state.get("epoch"):
        raise RunError(f"{run_dir} has no trained model yet (no finished epoch)")
    if "best" not in state:
        raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry 'best'")
    resolved, _ = resolve_device(device or "auto")
    shapes = shapes_from(info)
    torch.manual_seed(experiment.training.seed)
    pair = build_pair(experiment, shapes).to(resolved, DTYPES[info["dtype"]])
    pair.max_plate_nesting = info["max_plate_nesting"]
    load_state(pair, state["best"], "model and guide", run_dir / CHECKPOINT)
    view = RunView.of(pair, shapes["image_shape"], shapes["num_classes"])
    return TrainedRun(run_dir, experiment, pair, info, view)
