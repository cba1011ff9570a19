"""The SVI strategy: one optimizer over model and guide, minimizing the negative of the configured objective."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.registry import register_strategy
from ppl_vae.infer.direct_elbo import DirectELBO, agrees_with_trace_elbo, direct_elbo_applies
from ppl_vae.infer.objectives import make_objective, refuse_unreparameterized
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair
from ppl_vae.train.distributed import SINGLE, World
from ppl_vae.train.strategy import Strategy, refuse_implicit


@register_strategy("svi")
class SVIStrategy(Strategy):
    """Stochastic variational inference: one optimizer over model and guide, minimizing the negative
    of the configured objective (``training.objective``) per example, through Pyro's ``ELBOModule``; or,
    for the one-particle ``trace_elbo`` of the shipped model/guide family, through the same ELBO computed
    from the pair's methods (``ppl_vae.infer.direct_elbo``) once it has agreed with Pyro's on the first batch."""

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

    def step(self, x: Tensor, y: Tensor | None, beta: float, total: int) -> float:
        if x.shape[0] == 0:  # this process's part of a short last batch: it takes part in the gradient sum
            loss = torch.zeros((), dtype=x.dtype, device=x.device)
            self.update("svi", loss)
            return 0.0
        direct = self.route(x, y)
        module = direct if direct is not None else self.loss
        # Through DDP, unless some rank's share of this batch is empty: then every rank sums after backward.
        synced = self.world.active and total >= self.world.size
        if synced and (self.synced is None or self.synced.module is not module):
            self.synced = self.world.data_parallel(module)
        call = self.synced if synced else module
        if direct is not None:
            loss = call(x, y, beta) / total
        else:
            self.kl_weight.beta = beta
            with self.kl_weight if beta != 1.0 else contextlib.nullcontext():
                loss = call(x, y=y) / total
        self.update("svi", loss, summed=synced)
        return -loss.item()
