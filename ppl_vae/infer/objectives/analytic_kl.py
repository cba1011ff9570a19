"""The ELBO with the KL term in closed form: Pyro's ``TraceMeanField_ELBO``.

Where ``kl_divergence`` is registered for a guide site and its prior (a diagonal Normal against
Normal(0, I)), the KL term is exact and the gradient's variance lower (Kingma & Welling 2014,
eq. 10); elsewhere (a mixture prior) Pyro falls back to the Monte Carlo estimate by itself.
"""

from __future__ import annotations

from pyro.infer import TraceMeanField_ELBO

from ppl_vae.core.registry import register_objective


@register_objective("analytic_kl")
def analytic_kl(num_particles: int = 1, max_plate_nesting: int = 1) -> TraceMeanField_ELBO:
    """The mean-field ELBO with K = ``num_particles`` draws for the reconstruction term."""
    return TraceMeanField_ELBO(
        num_particles=num_particles, vectorize_particles=num_particles > 1, max_plate_nesting=max_plate_nesting
    )
