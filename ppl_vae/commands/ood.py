"""``ppl-vae ood``: reject inputs by their density: a run's inputs against an outlier set, every score measured.

The outlier set is a registered dataset's split, or a ``.npy``/``.npz`` file of images (8-bit
integers, or floats in [0, 1]), transformed as the run's data was: put on its levels, binarized as
it was. The scores and their separation are ``ppl_vae.evaluation.ood``'s.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ppl_vae.commands.common import output_stem, require_positive, trained
from ppl_vae.core.devices import DTYPES
from ppl_vae.core.errors import DataError
from ppl_vae.core.files import write_json
from ppl_vae.core.registry import DATASETS
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.data.transforms import binarize
from ppl_vae.evaluation.ood import SCORE_UNITS, Outliers, detect
from ppl_vae.report.ood import plot_detection
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.prepare import load_data
from ppl_vae.runs.trained import TrainedRun


def _file_images(path: Path, levels: int | None) -> Tensor:
    """Images of a .npy or .npz file (the array ``x``, ``images`` or the only one), on the run's value grid."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as a NumPy file: {error}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        keys = [k for k in ("x", "images") if k in loaded.files] or loaded.files
        if len(keys) != 1 and not {"x", "images"} & set(loaded.files):
            raise DataError(f"{path} holds arrays {', '.join(loaded.files)}; name the images 'x' or 'images'")
        array = loaded[keys[0]]
    else:
        array = loaded
    if array.dtype.kind in "ui":
        if array.min() < 0 or array.max() > 255:
            raise DataError(f"{path} holds integers outside 0..255 (from {array.min()} to {array.max()})")
        values = torch.from_numpy(array.astype(np.float64) / 255)
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DataError(f"{path} holds values outside [0, 1] (from {np.nanmin(array)} to {np.nanmax(array)})")
        values = torch.from_numpy(array.astype(np.float64))
    else:
        raise DataError(f"{path} holds {array.dtype} values; give 8-bit integers or floats in [0, 1]")
    if levels is not None:
        values = torch.round(values * (levels - 1)) / (levels - 1)
    return values


def load_outliers(run, spec: str, split: str, seed: int) -> Outliers:
    """The outlier set ``spec`` (a registered dataset's ``split``, or a .npy/.npz file) transformed as ``run``'s
    data: binarized or put on its levels; refused in one sentence when its examples have another shape."""
    section = run.experiment.sections["data"]
    training = run.experiment.training
    dtype = DTYPES[training.dtype]
    contract = run.pair.model_contract
    if spec in DATASETS.names():
        table = {"name": spec, **{k: section[k] for k in ("binarize", "dequantize", "data_dir") if k in section}}
        _, data, _, _ = load_data(table, contract, training.seed, dtype)
        chosen, description, name = data.split(split), f"{data.description}, {split} split", spec
    elif Path(spec).suffix in (".npy", ".npz") and Path(spec).is_file():
        levels = run.data().levels
        values = _file_images(Path(spec), levels).to(dtype)
        raw = Dataset(Path(spec).stem, Split(values), Split(values), Split(values), levels=levels)
        fitted = binarize(raw, section.get("binarize", "auto"), contract, seed)
        chosen, description, name = fitted.test, f"{len(values)} images from {spec}", Path(spec).name.replace(".", "_")
    else:
        raise DataError(
            f"no dataset or .npy/.npz file named '{spec}'; give a registered dataset ({', '.join(DATASETS.names())}) "
            "or the path of a NumPy file of images"
        )
    expected, found = tuple(run.data().x_shape), tuple(chosen.x.shape[1:])
    if found != expected:
        channel = len(expected) == 3 and found == expected[1:]
        advice = f": add a channel axis of {expected[0]} (x[:, None] in NumPy)" if channel else ""
        raise DataError(
            f"the outliers {name} have examples of shape {found}, the run's data {expected}: a density compares "
            f"inputs of one shape{advice}"
        )
    return Outliers(chosen, description, name)


def ood(
    run: TrainedRun | str | Path,
    outliers: str,
    split: str = "test",
    iw_samples: int = 100,
    limit: int | None = None,
    seed: int = 0,
    typicality_batch: int = 10,
    device: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Score ``run``'s ``split`` (at most ``limit`` random examples) against ``outliers`` (a dataset name or a
    NumPy file); write ``ood-<outliers>-<split>-...-K<K>.json``, the per-example scores (``.npz``), the ROC
    figure and the score histograms. Returns (the figures, the file stem)."""
    require_positive(iw_samples, "iw_samples")
    require_positive(limit, "limit")
    require_positive(typicality_batch, "typicality_batch")
    run = trained(run, device)
    chosen = load_outliers(run, outliers, split, seed)
    stem = output_stem(f"ood-{chosen.name}", split, limit, seed, K=iw_samples)
    with RunLock(run.directory, "ood"):
        start = time.perf_counter()
        summary, scores = detect(run, chosen, split, iw_samples, limit, seed, typicality_batch)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        write_json(run.directory / f"{stem}.json", summary)
        np.savez(run.directory / f"{stem}.npz", **scores)
        names = [n for n in SCORE_UNITS if f"in_{n}" in scores]
        plot_detection({n: (scores[f"in_{n}"], scores[f"out_{n}"]) for n in names}, SCORE_UNITS, run.directory, stem)
    return summary, stem
