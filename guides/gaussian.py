"""Amortized diagonal Normal encoder: q(z | x) = Normal(mu(x), diag sigma(x)^2)."""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor

from ppl_vae.nets import diagonal_normal, mlp
from ppl_vae.registry import register_guide


class AmortizedNormal(PyroModule):
    """q(z | inputs) = Normal(mu, diag sigma^2) from one MLP over ``input_dim`` numbers per example.

    The MLP maps :meth:`inputs` (..., input_dim) to 2 * latent_dim numbers: mu, and
    sigma = min_scale + softplus(raw). Subclasses say what the inputs are.
    """

    def __init__(self, input_dim: int, latent_dim: int, hidden: Sequence[int], activation: str, min_scale: float):
        super().__init__()
        self.latent_dim = latent_dim
        self.min_scale = min_scale
        self.encoder = mlp(input_dim, list(hidden), 2 * latent_dim, activation)

    def inputs(self, x: Tensor, y: Tensor | None) -> Tensor:
        raise NotImplementedError

    def posterior(self, x: Tensor, y: Tensor | None = None) -> dist.Distribution:
        """q(z | ...): batch shape x.shape[:-1], event shape (latent_dim,)."""
        return diagonal_normal(self.encoder(self.inputs(x, y)), self.min_scale)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` for every example of ``x`` (N, x_dim) inside the ``data`` plate."""
        if x is None:
            raise ValueError(f"the guide {type(self).__name__} needs data x")
        with pyro.plate("data", x.shape[0]):
            return pyro.sample("z", self.posterior(x, y))


@register_guide("gaussian_encoder")
class GaussianEncoder(AmortizedNormal):
    """q(z|x) = Normal(mu(x), diag sigma(x)^2), mu and sigma from one MLP on x (..., x_dim); y is ignored."""

    def __init__(
        self,
        x_dim: int,
        latent_dim: int = 10,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        min_scale: float = 1e-4,
    ):
        super().__init__(x_dim, latent_dim, hidden, activation, min_scale)
        self.x_dim = x_dim

    def inputs(self, x: Tensor, y: Tensor | None) -> Tensor:
        return x
