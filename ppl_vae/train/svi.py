"""The SVI strategy: one optimizer over model and guide, minimizing the negative of the configured objective."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.registry import register_strategy
from ppl_vae.infer.direct_elbo import DirectELBO, agrees_with_trace_elbo, direct_elbo_applies
from ppl_vae.infer.objectives import make_objective, refuse_unreparameterized
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair
from ppl_vae.train.compiled import compiled_function
from ppl_vae.train.distributed import SINGLE, World
from ppl_vae.train.strategy import Strategy, refuse_implicit


@register_strategy("svi")
class SVIStrategy(Strategy):
    """Stochastic variational inference: one optimizer over model and guide, minimizing the negative
    of the configured objective (``training.objective``) per example, through Pyro's ``ELBOModule``; or,
    for the one-particle ``trace_elbo`` of the shipped model/guide family, through the same ELBO computed
    from the pair's methods (``ppl_vae.infer.direct_elbo``) once it has agreed with Pyro's on the first batch.

    With ``training.compile``, the direct ELBO is compiled whole, and Pyro's route runs with its networks
    compiled (``ppl_vae.train.compiled``)."""

    def __init__(self, pair: Pair, config: TrainingConfig, world: World = SINGLE):
        refuse_implicit(pair, "svi")
        super().__init__(pair, config, world)
        refuse_unreparameterized(config.objective, pair)
        objective = make_objective(
            config.objective, config.num_particles, pair.max_plate_nesting, **config.objective_options
        )
        self.loss = objective(pair.model, pair.guide)
        self.add_phase("svi", self.loss.parameters())
        self.kl_weight = KLWeight()
        applies = direct_elbo_applies(pair, config.objective, config.num_particles)
        self.direct: DirectELBO | None = DirectELBO(pair) if applies else None
        self.direct_checked = False
        self.synced: nn.Module | None = None  # the chosen loss module, data-parallel (torchrun runs)
        self.compiled: tuple[nn.Module, Callable] | None = None  # (a direct loss module, its compiled call)

    def describe(self) -> str:
        return f"{self.config.objective} (K={self.config.num_particles})"

    def route(self, x: Tensor, y: Tensor | None) -> DirectELBO | None:
        """The direct ELBO when it applies and agreed with Pyro's on the first batch (checked once, and on
        every rank of a distributed run: one rank's disagreement sends all to Pyro's route), else None."""
        if self.direct is not None and not self.direct_checked:
            self.direct_checked = True
            agrees = agrees_with_trace_elbo(self.pair, self.direct, x, y, self.config.seed)
            if self.world.all_sum(float(agrees)) < self.world.size:
                self.direct = None
        return self.direct

    def batch_loss(self, x: Tensor, y: Tensor | None, beta: float, total: int, synced: bool = False) -> Tensor:
        """The loss one step minimizes: the negative objective (its latent term weighted by ``beta``) summed over
        the examples of ``x`` (N > 0, ...) and divided by ``total``, the examples of the global batch; a scalar
        tensor, nats per example, differentiable in the pair's parameters. ``synced``: computed through torch's
        ``DistributedDataParallel`` (:meth:`~ppl_vae.train.distributed.World.data_parallel`), whose backward
        pass sums the gradients over the ranks. With ``training.compile``, the direct ELBO (data-parallel or
        not) runs compiled, and Pyro's route with its networks compiled."""
        direct = self.route(x, y)
        module = direct if direct is not None else self.loss
        if synced and (self.synced is None or self.synced.module is not module):
            self.synced = self.world.data_parallel(module)
        call = self.synced if synced else module
        if direct is not None:
            if not self.config.compile:
                return call(x, y, beta) / total
            if self.compiled is None or self.compiled[0] is not call:
                self.compiled = (call, compiled_function(call))
            # beta as a tensor: one graph for every beta of a warm-up
            return self.compiled[1](x, y, torch.tensor(beta, dtype=x.dtype, device=x.device)) / total
        self.kl_weight.beta = beta
        with self.networks_compiled(), self.kl_weight if beta != 1.0 else contextlib.nullcontext():
            return call(x, y=y) / total

    def step(self, x: Tensor, y: Tensor | None, beta: float, total: int) -> float:
        if x.shape[0] == 0:  # this process's part of a short last batch: it takes part in the gradient sum
            loss = torch.zeros((), dtype=x.dtype, device=x.device)
            self.update("svi", loss)
            return 0.0
        # Through DDP, unless some rank's share of this batch is empty: then every rank sums after backward.
        synced = self.world.active and total >= self.world.size
        loss = self.batch_loss(x, y, beta, total, synced)
        self.update("svi", loss, summed=synced)
        return -loss.item()
