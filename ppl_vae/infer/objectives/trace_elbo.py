"""The ELBO with Monte Carlo KL: Pyro's ``Trace_ELBO`` (Kingma & Welling 2014, eq. 3), for any guide."""

from __future__ import annotations

from pyro.infer import Trace_ELBO

from ppl_vae.core.registry import register_objective


@register_objective("trace_elbo")
def trace_elbo(num_particles: int = 1, max_plate_nesting: int = 1) -> Trace_ELBO:
    r""":math:`\mathbb{E}_{q(z|x)}[\log p(x, z) - \log q(z \mid x)]` averaged over K = ``num_particles`` draws
    (vectorized when K > 1)."""
    return Trace_ELBO(
        num_particles=num_particles, vectorize_particles=num_particles > 1, max_plate_nesting=max_plate_nesting
    )
