r"""The importance-weighted bound trained with the doubly reparameterized gradient (DReG) of Tucker et al. (2019).

The bound is IWAE's (Burda et al. 2016), :math:`\mathcal{L}_K = \mathbb{E} \log \frac{1}{K} \sum_k w_k`,
:math:`w_k = p(x, z_k) / q(z_k \mid x)`, :math:`z_k = g(\epsilon_k, \phi)`; only its gradient estimator
changes. The model's gradient is IWAE's, :math:`\sum_k \tilde w_k \nabla_\theta \log p(x, z_k)` with
:math:`\tilde w_k = w_k / \sum_j w_j`. For the guide, IWAE's reparameterized gradient carries a score term
:math:`\nabla_\phi \log q_\phi(z_k)` at fixed z whose variance grows with K, so that the encoder's signal
to noise falls as K grows (Rainforth et al. 2018). Reparameterizing that term a second time gives
(Tucker, Lawson, Gu & Maddison 2019, "Doubly reparameterized gradient estimators for Monte Carlo
objectives", eq. 6)

.. math:: \nabla_\phi \mathcal{L}_K = \mathbb{E} \sum_k \tilde w_k^2
          \frac{\partial \log w_k}{\partial z_k} \frac{\partial z_k}{\partial \phi}

the same gradient in expectation, with lower variance. Here it is computed for any guide whose sites are
all reparameterized (several latent sites too: z is then the vector of all of them), from three traced
passes: the guide's draws z; the guide and the model replayed on detached copies of them, whose
partial derivatives give :math:`\partial \log w_k / \partial z_k` at fixed parameters. The loss returned
has the value of the negative IW bound and the gradients of the estimator above.
"""

from __future__ import annotations

import math

import torch
from pyro import poutine

from ppl_vae.core.registry import register_objective
from ppl_vae.infer.objectives.base import Objective
from ppl_vae.infer.weights import per_example, sample_sites, vectorized


def _log_density(trace: poutine.Trace, shape: tuple[int, int]) -> torch.Tensor:
    """The summed (scaled) log-densities of a trace's sample sites per particle and example: (K, N)."""
    trace.compute_log_prob()
    return sum(per_example(site, "log_prob", shape) for site in sample_sites(trace).values())


class DoublyReparameterizedIWAE(Objective):
    """The IW-K bound with the DReG gradient for the guide (see the module text), per data point, summed over
    the batch; K = ``num_particles``. Log-densities are the scaled ones (a beta weighting applies)."""

    def __init__(self, num_particles: int = 5, max_plate_nesting: int = 1):
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting)

    def differentiable_loss(self, model, guide, x, y=None) -> torch.Tensor:
        k, nesting = self.num_particles, self.max_plate_nesting
        shape = (k, x.shape[0])
        draws = sample_sites(poutine.trace(vectorized(guide, k, nesting)).get_trace(x, y=y))
        leaves = poutine.Trace()
        for name, site in draws.items():
            leaves.add_node(name, **{**site, "value": site["value"].detach().requires_grad_()})
        guide_again = poutine.trace(poutine.replay(vectorized(guide, k, nesting), trace=leaves)).get_trace(x, y=y)
        model_trace = poutine.trace(poutine.replay(vectorized(model, k, nesting), trace=leaves)).get_trace(x, y=y)
        log_p, log_q = _log_density(model_trace, shape), _log_density(guide_again, shape)
        log_w = log_p - log_q
        normalized = torch.softmax(log_w.detach(), dim=0)
        values = [leaves.nodes[name]["value"] for name in draws]
        slopes = torch.autograd.grad((normalized**2 * log_w).sum(), values, retain_graph=True)
        model_part = (normalized * log_p).sum()
        guide_part = sum((slope.detach() * site["value"]).sum() for slope, site in zip(slopes, draws.values()))
        surrogate = -(model_part + guide_part)
        loss = -(torch.logsumexp(log_w.detach(), dim=0) - math.log(k)).sum()
        return loss + surrogate - surrogate.detach()


@register_objective("iwae_dreg", importance_weighted=True, reparameterized=True)
def iwae_dreg(num_particles: int = 5, max_plate_nesting: int = 1) -> DoublyReparameterizedIWAE:
    """The IW-K bound with K = ``num_particles``, trained with the DReG gradient."""
    return DoublyReparameterizedIWAE(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
