"""Optimizers by name (``training.optimizer``).

An optimizer is a factory registered with ``@register_optimizer("name")``, called as
``factory(parameters, config, **options)`` (``parameters``: a list of tensors; ``config``: the
:class:`~ppl_vae.core.config.TrainingConfig`, whose ``learning_rate`` is the starting rate;
``options``: the other keys of a ``[training.optimizer]`` table), returning a
``torch.optim.Optimizer``. Every phase of a strategy gets its own (``Strategy.add_phase``), and its
state is checkpointed. Built in: ``adam`` (Kingma & Ba 2015; ``weight_decay`` as an L2 term) and
``adamw`` (Loshchilov & Hutter 2019; decoupled weight decay), both with betas (``adam_beta1``, 0.999).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.construct import construct
from ppl_vae.core.registry import OPTIMIZERS, register_optimizer


@register_optimizer("adam")
def adam(parameters: list[torch.Tensor], config: TrainingConfig) -> torch.optim.Optimizer:
    """Adam with ``learning_rate``, betas (``adam_beta1``, 0.999) and ``weight_decay`` as coupled L2."""
    return torch.optim.Adam(
        parameters, lr=config.learning_rate, betas=(config.adam_beta1, 0.999), weight_decay=config.weight_decay
    )


@register_optimizer("adamw")
def adamw(parameters: list[torch.Tensor], config: TrainingConfig) -> torch.optim.Optimizer:
    """AdamW with ``learning_rate``, betas (``adam_beta1``, 0.999) and decoupled ``weight_decay``."""
    return torch.optim.AdamW(
        parameters, lr=config.learning_rate, betas=(config.adam_beta1, 0.999), weight_decay=config.weight_decay
    )


def make_optimizer(parameters: Iterable[torch.nn.Parameter], config: TrainingConfig) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, with its options, over ``parameters``."""
    table = {"name": config.optimizer, **config.optimizer_options}
    context = {"parameters": list(parameters), "config": config}
    return construct(OPTIMIZERS, table, context, "training.optimizer")
