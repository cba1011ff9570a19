"""Bottom-up encoder of a hierarchical VAE: q(z_1 | x) q(z_2 | z_1) ... q(z_L | z_{L-1}).

The recognition model of the importance-weighted autoencoder paper (Burda, Grosse & Salakhutdinov 2016,
section 5): each layer a diagonal Gaussian whose mean and scale a network computes from the layer below
(x for z_1), scale ``min_scale + softplus(raw)``. It samples the sites ``"z1"`` ... ``"zL"`` of
``ppl_vae.models.hierarchical``, whose sizes it takes from the model (``latent_dims``).
"""

from __future__ import annotations

from typing import Any

import pyro
from torch import Tensor, nn

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_guide
from ppl_vae.core.sizes import check_sizes
from ppl_vae.networks import build_network


@register_guide("hierarchical_encoder")
class HierarchicalEncoder(nn.Module):
    """q(z_1 | x) prod_{l >= 2} q(z_l | z_{l-1}): ``encoder`` maps x (..., *x_shape) to the mean and raw scale of
    z_1; ``layer_net`` (one network per level, from the same spec) maps z_{l-1} to those of z_l.
    ``latent_dims``: the sizes of z_1 ... z_L, the model's by default."""

    contract = GuideContract(density=True)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dims: list[int] | tuple[int, ...] | None = None,
        encoder: Any = "mlp",
        layer_net: Any = "mlp",
        min_scale: float = 1e-3,
    ):
        super().__init__()
        if latent_dims is None:
            raise ConfigError(
                "the hierarchical encoder needs latent_dims (the sizes of z1 ... zL): pair it with a hierarchical "
                "model, which gives them, or set guide.latent_dims"
            )
        latent_dims = list(latent_dims)
        check_sizes(latent_dims=latent_dims)
        self.latent_dims, self.min_scale = latent_dims, min_scale
        self.sites = tuple(f"z{level}" for level in range(1, len(latent_dims) + 1))
        self.contract = GuideContract(density=True, covers=self.sites)
        self.encoder = build_network(encoder, tuple(x_shape), (2 * latent_dims[0],), 0, "guide.encoder")
        self.layer_nets = nn.ModuleList(
            build_network(layer_net, (below,), (2 * above,), 0, "guide.layer_net")
            for below, above in zip(latent_dims[:-1], latent_dims[1:])
        )

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> None:
        """Samples z_1 from x, then each z_l from z_{l-1}, inside the ``data`` plate."""
        if x is None:
            raise ValueError("the hierarchical encoder needs data x")
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample(self.sites[0], diagonal_normal(self.encoder(x), self.min_scale))
            for level, network in enumerate(self.layer_nets, start=2):
                z = pyro.sample(self.sites[level - 1], diagonal_normal(network(z), self.min_scale))
