"""The one-particle ELBO of the shipped model/guide family, computed from the pair's own methods.

Pyro's ``Trace_ELBO`` runs the guide and the model under its tracing handlers and sums the log-densities
of the sites it recorded; on a small network that bookkeeping is a fixed cost of about a millisecond a
step. When the model's Pyro function is :meth:`LatentVariableModel.forward` and the guide's is
:meth:`AmortizedGuide.forward` with a reparameterizable posterior, those functions are, by their code,

    guide: z ~ guide.posterior(x, y)
    model: z ~ model.prior(n, y); x ~ model.decode(z, model.condition(y, n))

inside the ``data`` plate, so the loss ``Trace_ELBO`` computes with one particle is

    -sum_i [log p(x_i | z_i) + beta (log p(z_i) - log q(z_i | x_i))],  z_i = rsample of q(z | x_i),

which :class:`DirectELBO` computes with the same calls, in the same order, from the same random stream.
A subclass may still override those methods in ways the two routes read differently, so the
strategy that uses it first checks, on its first batch, that both give the same loss from the same
seed (:func:`agrees_with_trace_elbo`), and keeps Pyro's route for good when they do not.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ppl_vae.core.devices import frozen
from ppl_vae.infer.direct_weights import shipped_family
from ppl_vae.infer.objectives import make_objective
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair

AGREEMENT_TOLERANCE = 1e-4  # relative, on the batch's summed loss


def direct_elbo_applies(pair: Pair, objective: str, num_particles: int) -> bool:
    """True for the one-particle ``trace_elbo`` of a pair of the shipped family
    (:func:`~ppl_vae.infer.direct_weights.shipped_family`)."""
    return objective == "trace_elbo" and num_particles == 1 and shipped_family(pair)


class DirectELBO(nn.Module):
    """The negative one-particle ELBO summed over a batch, nats; see the module's docstring."""

    def __init__(self, pair: Pair):
        super().__init__()
        self.pair = pair

    def forward(self, x: Tensor, y: Tensor | None = None, beta: float = 1.0) -> Tensor:
        model, guide = self.pair.model, self.pair.guide
        q = guide.posterior(x, y)
        if not q.has_rsample:  # Pyro's route then estimates the gradient of the guide by its score function
            raise NotImplementedError(f"the guide's posterior {type(q).__name__} is not reparameterizable")
        z = q.rsample()
        n = x.shape[0]
        latent = model.prior(n, y).log_prob(z) - q.log_prob(z)
        observed = model.decode(z, model.condition(y, n)).log_prob(x)
        return -(observed + beta * latent).sum()


def agrees_with_trace_elbo(pair: Pair, direct: DirectELBO, x: Tensor, y: Tensor | None, seed: int = 0) -> bool:
    """True when :class:`DirectELBO` and Pyro's ``Trace_ELBO`` give the same loss on the batch (x, y) from the
    same seed, at beta = 1 and 1/2 (within :data:`AGREEMENT_TOLERANCE`); False too when the direct route cannot
    run (a posterior without ``rsample``). Parameters, modes and random streams are left as they were."""
    pyro_loss = make_objective("trace_elbo", 1, pair.max_plate_nesting)
    training = pair.training
    pair.eval()
    try:
        with torch.no_grad():
            for beta in (1.0, 0.5):
                with frozen(seed, pair.device), KLWeight(beta):
                    reference = pyro_loss.differentiable_loss(pair.model, pair.guide, x, y=y)
                with frozen(seed, pair.device):
                    ours = direct(x, y, beta)
                if not torch.isclose(ours, reference, rtol=AGREEMENT_TOLERANCE, atol=AGREEMENT_TOLERANCE):
                    return False
        return True
    except NotImplementedError:  # a posterior without rsample() (one drawn by Pyro's own call): Pyro's route
        return False
    finally:
        pair.train(training)
