"""Which data a run saw: a fingerprint of every split, checked whenever a command rebuilds the data.

The fingerprint is a BLAKE2b digest of each split's raw tensors (values, dtype and shape) as
the dataset factory returned them, before any transform. A run records it (with the
factory options that chose the files and the split, see ``Dataset.options``); a later
command that rebuilds different data is refused in one sentence instead of scoring a run
on examples it was trained on.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor

from ppl_vae.core.errors import DataError
from ppl_vae.data.containers import Dataset, Split


def digest(tensors: list[Tensor | None]) -> str:
    """A hex BLAKE2b digest of ``tensors`` (values, dtype and shape; None counts as a value)."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()


def fingerprint(data: Dataset) -> dict[str, str]:
    """Per split, a hex digest of its raw ``x`` and ``y``."""
    return {name: digest([s.x, s.y]) for name, s in data.splits().items()}


def data_record(data: Dataset) -> dict[str, Any]:
    """What a run records about its (raw) data: name, description, pinned options, sizes, fingerprint."""
    return {
        "name": data.name,
        "description": data.description,
        "options": dict(data.options),
        "sizes": {name: len(s) for name, s in data.splits().items()},
        "fingerprint": fingerprint(data),
    }


def check_same_data(recorded: dict[str, Any], data: Dataset, run: str) -> None:
    """Refuse data whose fingerprint differs from the one ``run`` recorded."""
    now = fingerprint(data)
    changed = [name for name, digest in recorded["fingerprint"].items() if now.get(name) != digest]
    if changed:
        raise DataError(
            f"the data on disk no longer matches {run}: its {', '.join(changed)} split(s) of {data.name} differ from "
            f"those it was trained on ({recorded['description']}); restore those files or train a new run"
        )


def random_subset(split: Split, limit: int | None, seed: int) -> tuple[Split, str]:
    """At most ``limit`` examples of ``split`` drawn at random with ``seed`` (kept in their order), and a
    phrase that says which; all of them (and "all N") when ``limit`` is None or not smaller."""
    n = len(split)
    if limit is None or limit >= n:
        return split, f"all {n}"
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values
    return split.subset(chosen.to(split.x.device)), f"a random {limit} of the {n} (seed {seed})"
