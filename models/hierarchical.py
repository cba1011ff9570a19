r"""Hierarchical VAEs: several stochastic layers, p(z_L) p(z_{L-1} | z_L) ... p(z_1 | z_2) p(x | z_1).

The two-layer model of the importance-weighted autoencoder paper (Burda, Grosse & Salakhutdinov 2016,
section 5: 784-100-100-z1(100)-50-50-z2(50), tanh) is ``latent_dims = [100, 50]`` with networks of two
hidden layers of 100 and 50 units. Each conditional p(z_l | z_{l+1}) is a diagonal Gaussian whose mean and
scale a ``prior_net`` computes from z_{l+1} (scale ``min_scale + softplus(raw)``); the top p(z_L) is a
registered prior (Normal(0, I) by default); p(x | z_1) is any registered likelihood applied to the
``decoder`` network of z_1 (an MLP or a conv decoder). The latent sites are ``"z1"`` ... ``"zL"``;
``code`` names the one that latent views and probes read (the top by default).
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
from torch import Tensor, nn

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_model
from ppl_vae.core.sizes import check_sizes
from ppl_vae.models.base import plate_size
from ppl_vae.models.likelihood import likelihood_contract, make_likelihood
from ppl_vae.models.priors import build_prior
from ppl_vae.networks import build_network


def layer_sites(latent_dims: list[int]) -> tuple[str, ...]:
    """The latent sites of a hierarchy with these sizes, bottom first: ``("z1", ..., "zL")``."""
    return tuple(f"z{level}" for level in range(1, len(latent_dims) + 1))


@register_model("hierarchical_vae")
class HierarchicalVAE(nn.Module):
    """p(z_L) prod_l p(z_l | z_{l+1}) p(x | z_1) with z_l of ``latent_dims[l - 1]`` (see the module text).

    ``likelihood``: a registered likelihood's name (``"bernoulli"``, ``"gaussian"``, ...) with
    ``likelihood_options``; ``decoder``: network spec from z_1 to its parameters; ``prior_net``: network spec
    from z_{l+1} to the mean and raw scale of z_l (one network per level, built from the same spec);
    ``prior``: the top prior. Sampling order: z_L first, x last.
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        sites = layer_sites(list(options.get("latent_dims", (100, 50))))
        return likelihood_contract(options, latents=tuple(reversed(sites)), code=options.get("code", sites[-1]))

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dims: list[int] | tuple[int, ...] = (100, 50),
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        decoder: Any = "mlp",
        prior_net: Any = "mlp",
        prior: Any = "normal",
        min_scale: float = 1e-3,
        levels: int | None = None,
        code: str | None = None,
    ):
        super().__init__()
        latent_dims = list(latent_dims)
        check_sizes(latent_dims=latent_dims)
        if len(latent_dims) < 2:
            raise ConfigError(f"a hierarchical VAE needs two latent layers or more, got latent_dims = {latent_dims}")
        self.x_shape, self.latent_dims, self.min_scale = tuple(x_shape), latent_dims, min_scale
        self.sites = layer_sites(latent_dims)
        self.contract = self.declare(
            {"likelihood": likelihood, "latent_dims": latent_dims, "code": code or self.sites[-1]}
        )
        self.latent_dim = latent_dims[-1]
        self.likelihood = make_likelihood(likelihood, x_shape, levels, likelihood_options)
        self.decoder = build_network(decoder, (latent_dims[0],), self.likelihood.param_shape, 0, "model.decoder")
        self.prior_nets = nn.ModuleList(
            build_network(prior_net, (above,), (2 * below,), 0, "model.prior_net")
            for below, above in zip(latent_dims[:-1], latent_dims[1:])
        )
        self.top = build_prior(prior, latent_dims[-1])

    def conditional(self, level: int, above: Tensor) -> dist.Distribution:
        """p(z_level | z_{level+1} = ``above``) (level counted from 1): batch shape ``above``'s, event shape
        (latent_dims[level - 1],)."""
        return diagonal_normal(self.prior_nets[level - 1](above), self.min_scale)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples z_L, ..., z_1 and x (observed when ``x`` is given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        with pyro.plate("data", n, device=self.top.anchor.device):
            z = pyro.sample(self.sites[-1], self.top.distribution(n))
            for level in range(len(self.latent_dims) - 1, 0, -1):
                z = pyro.sample(self.sites[level - 1], self.conditional(level, z))
            return pyro.sample("x", self.likelihood(self.decoder(z)), obs=x)
