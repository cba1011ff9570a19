"""Probabilistic PCA as a Pyro model: the ground truth for likelihood estimators.

p(z) = Normal(0, I_d), p(x | z) = Normal(W z + b, sigma^2 I_D), so that
p(x) = Normal(b, W W^T + sigma^2 I_D) in closed form (Tipping & Bishop 1999).
Trained by VI it recovers PPCA; paired with any guide, :meth:`exact_log_likelihood`
says how far an importance-weighted estimate is from the truth.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.nn import PyroModule, PyroParam
from torch import Tensor, nn
from torch.distributions import constraints

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.registry import register_model


class IsotropicGaussianLikelihood(PyroModule):
    """x ~ Normal(decoded, sigma^2 I) with one learned sigma > 0."""

    support = "real"
    outputs_per_dim = 1

    def __init__(self, noise_scale: float):
        super().__init__()
        self.noise_scale = PyroParam(torch.tensor(float(noise_scale)), constraint=constraints.positive)

    def forward(self, decoded: Tensor) -> dist.Distribution:
        return dist.Normal(decoded, self.noise_scale).to_event(1)


@register_model("linear_gaussian")
class LinearGaussianModel(LatentVariableModel):
    """p(z) p(x|z) with z ~ Normal(0, I) and x ~ Normal(W z + b, sigma^2 I); sigma is learned."""

    data_support = "real"

    def __init__(self, x_dim: int, latent_dim: int = 2, noise_scale: float = 0.5):
        super().__init__(x_dim, IsotropicGaussianLikelihood(noise_scale), latent_dim, hidden=(), activation="relu")

    @property
    def linear(self) -> nn.Linear:
        return self.decoder.net[0]

    @property
    def noise_scale(self) -> Tensor:
        return self.decoder.likelihood.noise_scale

    def marginal(self) -> dist.MultivariateNormal:
        """p(x) = Normal(b, W W^T + sigma^2 I), event shape (x_dim,)."""
        weight, bias = self.linear.weight, self.linear.bias
        covariance = weight @ weight.T + self.noise_scale**2 * torch.eye(self.x_dim)
        return dist.MultivariateNormal(bias, covariance_matrix=covariance)

    def exact_log_likelihood(self, x: Tensor) -> Tensor:
        """log p(x) for x (N, x_dim): (N,) nats, exact."""
        return self.marginal().log_prob(x)

    def exact_posterior(self, x: Tensor) -> dist.MultivariateNormal:
        """p(z | x) = Normal(M^-1 W^T (x - b), sigma^2 M^-1) with M = W^T W + sigma^2 I."""
        weight, bias, var = self.linear.weight, self.linear.bias, self.noise_scale**2
        m = weight.T @ weight + var * torch.eye(self.latent_dim)
        loc = torch.linalg.solve(m, weight.T @ (x - bias).T).T
        return dist.MultivariateNormal(loc, covariance_matrix=var * torch.linalg.inv(m))
