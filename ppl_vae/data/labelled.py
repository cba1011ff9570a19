"""Partially labelled data: keep a few training labels, balanced over classes, and hide the rest.

Semi-supervised learning (Kingma, Rezende, Mohamed & Welling 2014) trains on a training split where only
some examples carry their class label. ``data.labels = 100`` keeps 100 training labels: ``100 // C`` of
each of the C classes, one more for ``100 % C`` classes drawn with the seed, each class's examples drawn
at random with ``data.labels_seed``. Every other label of the training split, and every label of the
validation split, becomes :data:`~ppl_vae.core.contract.UNLABELLED`: a run with 100 labels has seen 100
labels and no other (its validation bound is a bound on log p(x); nothing is chosen on validation labels).
The test split keeps its labels, read only by the commands that measure a run (``classify``).

A run records the positions of the kept labels (``run.json``, ``data.labelled``); a command that rebuilds
the data chooses them again and refuses, in one sentence, a choice that differs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ppl_vae.core.contract import UNLABELLED
from ppl_vae.core.errors import ConfigError, DataError
from ppl_vae.data.checks import check_labels
from ppl_vae.data.containers import Dataset, Split


def one_hot(y: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """Labels of any shape (...) as one-hot rows (..., num_classes) of ``dtype``: given labels (N,), draws (K, N),
    or the values (C, 1) that ``TraceEnum_ELBO`` enumerates at a label site."""
    return torch.nn.functional.one_hot(y.long(), num_classes).to(dtype)


def labelled_mask(y: Tensor) -> Tensor:
    """True where a label of ``y`` (N,) is given, False where it is :data:`UNLABELLED`: (N,) bool."""
    return y != UNLABELLED


def balanced_sample(labels: np.ndarray, n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` examples of ``labels`` (N,) with (as near as possible) n / num_classes of each class: that
    many of each, one more for n % num_classes classes drawn with ``rng``, each class's drawn with ``rng``."""
    per_class = np.full(num_classes, n // num_classes)
    per_class[rng.permutation(num_classes)[: n % num_classes]] += 1
    chosen = []
    for c, count in enumerate(per_class):
        members = np.flatnonzero(labels == c)
        if count > len(members):
            raise ConfigError(f"{n} labels need {count} examples of class {c}, the training split has {len(members)}")
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.concatenate(chosen)


def choose_labelled(
    labels: Tensor, count: int, num_classes: int, seed: int, what: str = "the training split"
) -> Tensor:
    """Positions (sorted, int64) of ``count`` examples of ``labels`` (N,), balanced over the classes
    (:func:`balanced_sample` with a generator seeded by ``seed``). A ConfigError when ``count`` is more than N or
    fewer than the classes, or a class has fewer examples than its share (``what`` names the labels)."""
    n = labels.shape[0]
    if count > n:
        raise ConfigError(f'data.labels = {count} is more than the {n} examples of {what}; give at most {n}, or "all"')
    if count < num_classes:
        raise ConfigError(
            f"data.labels = {count} is fewer than the {num_classes} classes: give at least one label per class"
        )
    chosen = balanced_sample(labels.cpu().numpy(), count, num_classes, np.random.default_rng(seed))
    return torch.from_numpy(np.sort(chosen)).to(torch.int64)


def hide_labels(data: Dataset, labels: int | str, seed: int) -> Dataset:
    """``data`` with ``labels`` training labels kept (:func:`choose_labelled`) and the others, and every
    validation label, set to :data:`UNLABELLED`; ``data`` itself when ``labels`` is ``"all"``. The kept
    positions are in ``Dataset.labelled``. A ConfigError when the data has no class labels to keep."""
    if labels == "all":
        return data
    if data.num_classes is None or data.train.y is None:
        raise ConfigError(
            f"data.labels = {labels} asks for labelled training examples, but dataset '{data.name}' has no class "
            'labels; remove data.labels (or set it to "all")'
        )
    kept = choose_labelled(data.train.y, labels, data.num_classes, seed, f"the training split of {data.name}")
    train_y = torch.full_like(data.train.y, UNLABELLED)
    train_y[kept] = data.train.y[kept]
    valid_y = torch.full_like(data.valid.y, UNLABELLED)
    description = f"{data.description}; {labels} training labels kept (balanced, seed {seed}), the others hidden"
    return data.with_splits(
        {"train": Split(data.train.x, train_y), "valid": Split(data.valid.x, valid_y)},
        labelled=kept,
        description=description + ", validation labels hidden",
    )


def labelled_record(data: Dataset, labels: int | str, seed: int) -> dict[str, Any]:
    """What a run records of its labels: how many were asked for, the seed, and the positions kept in the
    training split (None when every label is given)."""
    kept = None if data.labelled is None else data.labelled.tolist()
    return {"labels": labels, "labels_seed": seed, "train_positions": kept}


def check_same_labelled(recorded: dict[str, Any] | None, data: Dataset, run: str) -> None:
    """Refuse, in one sentence, rebuilt data whose kept labels differ from those ``run`` recorded."""
    if recorded is None:
        return
    now = None if data.labelled is None else data.labelled.tolist()
    if now != recorded["train_positions"]:
        raise DataError(
            f"the labelled training examples chosen now differ from those {run} was trained with "
            f"(data.labels = {recorded['labels']}, seed {recorded['labels_seed']}); it cannot be rebuilt"
        )


def given_labels(y: Tensor | None, num_classes: int, n: int, what: str = "labels y") -> Tensor | None:
    """The labels a semi-supervised model or guide observes in a batch of ``n`` examples: ``y`` (n,) checked when
    every label is given, None when ``y`` is None or every label is :data:`UNLABELLED` (the label is then a latent
    site). A ValueError for a batch that mixes both: score its labelled and unlabelled examples apart
    (``ppl_vae.infer.objectives.semi_supervised`` does, in training)."""
    if y is None:
        return None
    check_labels(y, num_classes, n, what, hidden=True)
    known = labelled_mask(y)
    if not bool(known.any()):
        return None
    if not bool(known.all()):
        raise ValueError(
            f"{what} mixes {int(known.sum())} given and {int((~known).sum())} hidden labels in one batch; score the "
            "labelled and the unlabelled examples apart"
        )
    return y
