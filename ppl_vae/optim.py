"""Optimizers and learning-rate schedules from a :class:`~ppl_vae.config.TrainingConfig`.

Schedules are per epoch, as multipliers of ``learning_rate`` (``torch.optim.lr_scheduler.LambdaLR``):

- ``constant``: 1;
- ``exponential``: ``lr_decay ** epoch``;
- ``cosine``: from 1 down to ``min_learning_rate / learning_rate`` over ``epochs`` (half a cosine);
- ``iwae``: 10^(-i/7) during stage i, which lasts 3^i epochs (i = 0, 1, ...): Burda, Grosse &
  Salakhutdinov (2016), Appendix C, whose 8 stages make 3,280 epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR

from ppl_vae.config import TrainingConfig


def iwae_stage(epoch: int) -> int:
    """The stage i of epoch ``epoch`` (counted from 0) in the IWAE schedule: stage i lasts 3^i epochs."""
    stage, end = 0, 1
    while epoch >= end:
        stage += 1
        end += 3**stage
    return stage


def schedule_factor(config: TrainingConfig) -> Callable[[int], float]:
    """Multiplier of the learning rate in epoch ``e`` (counted from 0) for ``config.schedule``."""
    if config.schedule == "exponential":
        return lambda e: config.lr_decay**e
    if config.schedule == "cosine":
        floor = config.min_learning_rate / config.learning_rate
        return lambda e: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(e, config.epochs) / config.epochs))
    if config.schedule == "iwae":
        return lambda e: 10 ** (-iwae_stage(e) / 7)
    return lambda e: 1.0


def make_optimizer(parameters: Iterable[torch.nn.Parameter], config: TrainingConfig) -> torch.optim.Optimizer:
    """Adam or AdamW with ``learning_rate``, betas (``adam_beta1``, 0.999) and ``weight_decay`` (coupled L2 for
    Adam, decoupled for AdamW)."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(
        list(parameters),
        lr=config.learning_rate,
        betas=(config.adam_beta1, 0.999),
        weight_decay=config.weight_decay,
    )


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> LambdaLR:
    """The per-epoch schedule of ``config`` on ``optimizer``; call ``step()`` after every epoch."""
    return LambdaLR(optimizer, schedule_factor(config))
