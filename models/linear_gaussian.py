"""Probabilistic PCA as a Pyro model: the ground truth for likelihood estimators.

p(z) = Normal(0, I_d), p(x | z) = Normal(W z + b, sigma^2 I_D), so that
p(x) = Normal(b, W W^T + sigma^2 I_D) in closed form (Tipping & Bishop 1999).
Trained by VI it recovers PPCA; paired with any guide, :meth:`exact_log_likelihood`
says how far an importance-weighted estimate is from the truth. It is a model of
continuous data: on discrete data the engine makes it dequantize, and its closed form no longer applies.
"""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.distributions import constraints
from torch.nn import functional as F

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.registry import register_model
from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.likelihood import Likelihood


class IsotropicGaussianLikelihood(Likelihood):
    """x ~ Normal(decoded, sigma^2 I) with one learned sigma = softplus(raw) > 0."""

    support = constraints.real

    def __init__(self, event_shape: tuple[int, ...], noise_scale: float, levels: int | None = None):
        super().__init__(event_shape, levels)
        self.raw_noise = nn.Parameter(torch.tensor(math.log(math.expm1(noise_scale))))

    @property
    def noise_scale(self) -> Tensor:
        return F.softplus(self.raw_noise)

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        return dist.Normal(decoded, self.noise_scale).to_event(len(self.event_shape))


@register_model("linear_gaussian")
class LinearGaussianModel(LatentVariableModel):
    """p(z) p(x|z) with z ~ Normal(0, I) and x ~ Normal(W z + b, sigma^2 I); sigma is learned; x of any shape,
    flattened to D values (W is D x latent_dim)."""

    contract = ModelContract(support=constraints.real)

    def __init__(
        self, x_shape: tuple[int, ...], latent_dim: int = 2, noise_scale: float = 0.5, levels: int | None = None
    ):
        likelihood = IsotropicGaussianLikelihood(x_shape, noise_scale, levels)
        super().__init__(x_shape, likelihood, latent_dim, {"name": "mlp", "hidden": []})

    @property
    def linear(self) -> nn.Linear:
        return self.decoder.layers[0]

    @property
    def noise_scale(self) -> Tensor:
        return self.likelihood.noise_scale

    def marginal(self) -> dist.MultivariateNormal:
        """p(x) = Normal(b, W W^T + sigma^2 I), event shape (D,)."""
        weight, bias = self.linear.weight, self.linear.bias
        eye = torch.eye(weight.shape[0], dtype=weight.dtype, device=weight.device)
        covariance = weight @ weight.T + self.noise_scale**2 * eye
        return dist.MultivariateNormal(bias, covariance_matrix=covariance)

    def exact_log_likelihood(self, x: Tensor) -> Tensor:
        """log p(x) for x (N, D): (N,) nats, exact (a density: x is continuous)."""
        return self.marginal().log_prob(x.reshape(x.shape[0], -1))

    def exact_posterior(self, x: Tensor) -> dist.MultivariateNormal:
        """p(z | x) = Normal(M^-1 W^T (x - b), sigma^2 M^-1) with M = W^T W + sigma^2 I."""
        weight, bias, var = self.linear.weight, self.linear.bias, self.noise_scale**2
        m = weight.T @ weight + var * torch.eye(self.latent_dim, dtype=weight.dtype, device=weight.device)
        loc = torch.linalg.solve(m, weight.T @ (x.reshape(x.shape[0], -1) - bias).T).T
        return dist.MultivariateNormal(loc, covariance_matrix=var * torch.linalg.inv(m))


def fit_ppca(x: Tensor, latent_dim: int, extra_variance: float = 0.0) -> LinearGaussianModel:
    """Maximum-likelihood probabilistic PCA of ``x`` (N, *shape) in closed form (Tipping & Bishop 1999).

    With S the sample covariance (plus ``extra_variance`` on its diagonal) and its eigenvalues
    l_1 >= ... >= l_D with eigenvectors U: sigma^2 = mean of l_{d+1..D}, W = U_d (L_d - sigma^2 I)^(1/2),
    b = the sample mean. ``extra_variance``: the variance of uniform dequantization noise,
    1 / (12 L^2), to fit the dequantized data (k + u) / L in expectation from the cube centres.
    """
    flat = x.reshape(x.shape[0], -1).double()
    mean = flat.mean(0)
    covariance = torch.cov(flat.T, correction=0) + extra_variance * torch.eye(flat.shape[1], dtype=flat.dtype)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    noise = eigenvalues[latent_dim:].mean()
    weight = eigenvectors[:, :latent_dim] * (eigenvalues[:latent_dim] - noise).clamp(min=0).sqrt()
    model = LinearGaussianModel(tuple(x.shape[1:]), latent_dim, noise_scale=float(noise.sqrt()))
    with torch.no_grad():
        model.linear.weight.copy_(weight)
        model.linear.bias.copy_(mean)
    return model.to(x.dtype)
