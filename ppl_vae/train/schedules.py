"""Learning-rate schedules by name (``training.schedule``): per-epoch multipliers of ``learning_rate``.

A schedule is a factory registered with ``@register_schedule("name")``, called as
``factory(config, **options)`` (``config``: the :class:`~ppl_vae.core.config.TrainingConfig`;
``options``: the other keys of a ``[training.schedule]`` table) and returning a function of the
epoch (counted from 0) to the factor that multiplies ``learning_rate`` during it; the strategy
applies it with ``torch.optim.lr_scheduler.LambdaLR``, one step per epoch. Built in:

- ``constant``: 1;
- ``exponential``: ``lr_decay ** epoch``;
- ``cosine``: from 1 down to ``min_learning_rate / learning_rate`` over ``epochs`` (half a cosine);
- ``iwae``: 10^(-i/7) during stage i, which lasts 3^i epochs (i = 0, 1, ...): Burda, Grosse &
  Salakhutdinov (2016), Appendix C, whose 8 stages make 3,280 epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.construct import construct
from ppl_vae.core.registry import SCHEDULES, register_schedule

Schedule = Callable[[int], float]


@register_schedule("constant")
def constant(config: TrainingConfig) -> Schedule:
    """The learning rate as given, every epoch."""
    return lambda epoch: 1.0


@register_schedule("exponential")
def exponential(config: TrainingConfig) -> Schedule:
    """``lr_decay ** epoch``."""
    return lambda epoch: config.lr_decay**epoch


@register_schedule("cosine")
def cosine(config: TrainingConfig) -> Schedule:
    """Half a cosine from 1 to ``min_learning_rate / learning_rate`` over ``epochs`` (Loshchilov & Hutter 2017,
    without restarts)."""
    floor = config.min_learning_rate / config.learning_rate
    return lambda epoch: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(epoch, config.epochs) / config.epochs))


def iwae_stage(epoch: int) -> int:
    """The stage i of epoch ``epoch`` (counted from 0) in the IWAE schedule: stage i lasts 3^i epochs."""
    stage, end = 0, 1
    while epoch >= end:
        stage += 1
        end += 3**stage
    return stage


@register_schedule("iwae")
def iwae(config: TrainingConfig) -> Schedule:
    """10^(-i/7) during the 3^i epochs of stage i (Burda et al. 2016, Appendix C)."""
    return lambda epoch: 10 ** (-iwae_stage(epoch) / 7)


def schedule_factor(config: TrainingConfig) -> Schedule:
    """The multiplier of the learning rate in epoch ``e`` (counted from 0) for ``config.schedule`` and its options."""
    table = {"name": config.schedule, **config.schedule_options}
    return construct(SCHEDULES, table, {"config": config}, "training.schedule")


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> LambdaLR:
    """The per-epoch schedule of ``config`` on ``optimizer``; call ``step()`` after every epoch."""
    return LambdaLR(optimizer, schedule_factor(config))


def kl_beta(config: TrainingConfig, step: int, steps_per_epoch: int) -> float:
    """The weight of the latent (KL) term at optimizer step ``step`` (counted from 1): ``config.beta``, reached
    linearly over ``config.warmup_epochs`` epochs of ``steps_per_epoch`` steps."""
    warmup_steps = config.warmup_epochs * steps_per_epoch
    return config.beta * (min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0)
