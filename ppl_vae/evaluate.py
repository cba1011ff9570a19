"""Evaluation that never changes what it evaluates.

Everything here runs under ``torch.no_grad`` and on a forked random-number stream
seeded by the caller: parameters, gradients and the global RNG state are the same
after a call as before it, so evaluating during training cannot change the training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from ppl_vae.weights import log_weights


@contextlib.contextmanager
def frozen(seed: int) -> Iterator[None]:
    """No gradients, and a private RNG stream seeded with ``seed`` (the global one is restored)."""
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def elbo_per_example(
    model, guide, x: Tensor, y: Tensor | None = None, batch_size: int = 500, seed: int = 0, max_plate_nesting: int = 1
) -> Tensor:
    """Single-sample ELBO estimate log p(x, z) - log q(z | x), z ~ q, per example: (N,) nats.

    Unscaled log-densities: the true ELBO whatever beta the pair was trained with.
    """
    with frozen(seed):
        return torch.cat(
            [
                log_weights(model, guide, x[s], None if y is None else y[s], 1, max_plate_nesting=max_plate_nesting)[0]
                for s in batches(x.shape[0], batch_size)
            ]
        )
