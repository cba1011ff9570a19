"""Training strategies: what one optimization step does, and everything it owns.

A strategy (``@register_strategy("name")``) is built as ``Strategy(pair, config, world, **options)``
(:func:`make_strategy`; ``options``: the other keys of a ``[training.strategy]`` table), refuses in
one sentence (``ConfigError``) a pair it cannot train, and owns the modules it trains (the pair,
plus any extra networks in ``extras``, such as a discriminator), one optimizer and one
learning-rate schedule per phase (``add_phase``), and gradient clipping. Its contract:

- ``step(x, y, beta, total) -> float``: one update on a batch, returning this process's share of
  the training objective: its examples' sum in nats divided by ``total``, the number of examples
  in the global batch (all of them in one process; see ``ppl_vae.train.distributed``), higher is
  better; ``beta`` is the weight of the latent (KL) term;
- ``end_epoch()``: advance the schedules;
- ``state_dict()`` / ``load_state_dict(state)``: extras, optimizers and schedules, so that a
  run resumes exactly;
- ``keeps_best``: True when the trainer keeps the parameters of the best validation epoch and
  stops early on it; False to keep the last (adversarial training improves no bound monotonically).

:meth:`Strategy.update` sums gradients over the processes of a distributed run before clipping, and
adds the gradient's norm to the epoch's mean (:meth:`Strategy.epoch_gradient_norm`).
A loss that is not finite (on any process) raises :class:`NonFiniteLoss` naming the phase before
any parameter moves. With ``training.compile``, :meth:`Strategy.networks_compiled` is the context in
which a step runs its networks compiled (``ppl_vae.train.compiled``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.construct import construct
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import STRATEGIES
from ppl_vae.infer.pair import Pair
from ppl_vae.train.compiled import CompiledNetworks
from ppl_vae.train.distributed import SINGLE, World
from ppl_vae.train.optimizers import make_optimizer
from ppl_vae.train.schedules import make_scheduler


class NonFiniteLoss(ArithmeticError):
    """A phase's loss became NaN or infinite; nothing was updated."""

    def __init__(self, phase: str, value: float):
        super().__init__(f"the {phase} loss became {value}")
        self.phase, self.value = phase, value


class Strategy:
    """Base of training strategies: phases, each with its parameters, optimizer and schedule."""

    keeps_best: ClassVar[bool] = True

    def __init__(self, pair: Pair, config: TrainingConfig, world: World = SINGLE):
        self.pair, self.config, self.world = pair, config, world
        self.extras = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self._parameters: dict[str, list[nn.Parameter]] = {}
        self._norms: dict[str, list[Tensor]] = {}  # per phase: the epoch's gradient norms so far
        self._compiled: CompiledNetworks | None = None

    def networks_compiled(self) -> contextlib.AbstractContextManager:
        """The context of a training step's Pyro-traced part: with ``training.compile``, the networks of the pair
        and of ``extras`` run compiled inside it (:class:`~ppl_vae.train.compiled.CompiledNetworks`, built at the
        first call); otherwise nothing changes."""
        if not self.config.compile:
            return contextlib.nullcontext()
        if self._compiled is None:
            self._compiled = CompiledNetworks([self.pair, self.extras])
        return self._compiled

    def add_phase(self, name: str, parameters, learning_rate: float | None = None) -> None:
        """A phase ``name`` updating ``parameters`` with its own optimizer and schedule from the config
        (starting at ``learning_rate`` when given, else at ``training.learning_rate``)."""
        config = self.config if learning_rate is None else replace(self.config, learning_rate=learning_rate)
        self._parameters[name] = list(parameters)
        self.optimizers[name] = make_optimizer(self._parameters[name], config)
        self.schedulers[name] = make_scheduler(self.optimizers[name], config)

    def update(self, phase: str, loss: Tensor, summed: bool = False) -> None:
        """One optimizer step of ``phase`` on ``loss`` (a scalar to minimize; a constant for a process
        whose part of the batch is empty), gradients summed over the processes (by the backward pass itself
        when ``summed``: a loss computed through ``World.data_parallel``), then clipped."""
        finite = bool(torch.isfinite(loss))
        if self.world.active and self.world.all_sum(float(finite)) < self.world.size:
            finite = False
        if not finite:
            raise NonFiniteLoss(phase, loss.item() if not torch.isfinite(loss) else float("nan"))
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.backward()
        parameters = self._parameters[phase]
        if not summed:
            self.world.sum_gradients(parameters)
        if self.config.clip_norm > 0:
            norm = nn.utils.clip_grad_norm_(parameters, self.config.clip_norm)
        else:
            norm = gradient_norm(parameters)
        self._norms.setdefault(phase, []).append(norm.detach())
        optimizer.step()

    def step(self, x: Tensor, y: Tensor | None, beta: float, total: int) -> float:
        raise NotImplementedError

    def describe(self) -> str:
        """What the strategy optimizes, for ``summary.json``."""
        return f"{self.config.strategy}: phases {', '.join(self.optimizers)}"

    def end_epoch(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def learning_rate(self) -> float:
        """The current learning rate of the first phase."""
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]

    def epoch_gradient_norm(self) -> float:
        """The mean over the steps since the last call of the first phase's gradient norm (the L2 norm of all its
        parameters' gradients, summed over the processes, before clipping); NaN without a step. Starts the next
        epoch's mean."""
        norms = self._norms.get(next(iter(self.optimizers)), [])
        self._norms = {}
        return torch.stack(norms).mean().item() if norms else math.nan

    def zero_grad(self) -> None:
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        return {
            "extras": self.extras.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.extras.load_state_dict(state["extras"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])


def gradient_norm(parameters: list[nn.Parameter]) -> Tensor:
    """The L2 norm of the gradients of ``parameters`` taken together (0 without any), as a 0-d tensor."""
    norms = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    if not norms:
        return torch.zeros((), device=parameters[0].device if parameters else None)
    return torch.linalg.vector_norm(torch.stack(norms))


def make_strategy(pair: Pair, config: TrainingConfig, world: World = SINGLE) -> Strategy:
    """The strategy ``training.strategy`` names, built with its options for ``pair``."""
    table = {"name": config.strategy, **config.strategy_options}
    context = {"pair": pair, "config": config, "world": world}
    return construct(STRATEGIES, table, context, "training.strategy")


def refuse_implicit(pair: Pair, strategy: str) -> None:
    """A ConfigError when ``pair``'s model has no likelihood for ``strategy`` to score."""
    if not pair.model_contract.density:
        raise ConfigError(
            f"strategy '{strategy}' scores the model's likelihood, but model '{pair.model_name}' is implicit (no "
            "likelihood): train it with training.strategy = 'gan'"
        )
