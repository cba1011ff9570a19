"""Conditional generative models: the class-conditioned VAE and the structured-output CVAE.

All three reuse the likelihood modules of ``models/bernoulli.py`` and ``models/gaussian.py``
by registered name (``likelihood = "bernoulli"`` or ``"gaussian"``, with
``likelihood_options`` such as ``{scale = "decoder"}``); their contract takes its support
from the chosen likelihood.

- :class:`LabelConditionedVAE` ``conditional_vae``: p(z) p(x | z, y) for class labels y.
  Labels are an input of the model, not a random variable of it: its figures are
  log p(x | y). Pair it with ``conditional_encoder``, q(z | x, y).
- :class:`StructuredOutputCVAE` ``structured_cvae`` (Sohn, Lee & Yan 2015): input x,
  output y, prior network p(z | x), generation network p(y | x, z); the observed site
  is ``y``. Pair it with ``conditional_encoder`` (the recognition network q(z | x, y)).
- :class:`BaselinePredictor` ``baseline_predictor``: the deterministic baseline of the
  same paper, p(y | x) from one network and no latent variable; pair it with guide ``none``.
"""

from __future__ import annotations

import math
from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor, nn

from ppl_vae.core.contract import Conditioning, ModelContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_model
from ppl_vae.core.sizes import check_latent_dim
from ppl_vae.data.checks import one_hot_labels
from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.likelihood import likelihood_contract, make_likelihood
from ppl_vae.models.priors import check_sampled
from ppl_vae.networks import build_network


@register_model("conditional_vae")
class LabelConditionedVAE(LatentVariableModel):
    """p(z | y) p(x | z, y): x from the likelihood of decoder([z, one_hot(y)]); z from ``prior``
    (``ppl_vae.models.priors``; Normal(0, I) by default), or, with ``prior_by_label = true``, from
    the part of a mixture prior that belongs to class y (:meth:`~ppl_vae.models.priors.Prior.for_labels`).

    ``y``: (N,) integer class labels 0 .. num_classes - 1, required (also to sample:
    ``model(y=labels, num_samples=len(labels))`` draws one x per label).
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract(options, conditioning=Conditioning.LABELS)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        num_classes: int,
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        latent_dim: int = 10,
        decoder: Any = "mlp",
        levels: int | None = None,
        prior: Any = "normal",
        prior_by_label: bool = False,
    ):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(f"num_classes must be a whole number >= 2, got {num_classes!r}")
        likelihood_module = make_likelihood(likelihood, x_shape, levels, likelihood_options)
        super().__init__(x_shape, likelihood_module, latent_dim, decoder, condition_dim=num_classes, prior=prior)
        self.num_classes = num_classes
        self.prior_by_label = bool(prior_by_label)
        if self.prior_by_label:  # refuses a prior of one part, or whose parts cannot be sampled
            first = torch.zeros(1, dtype=torch.int64)
            name = prior if isinstance(prior, str) else prior.get("name") if isinstance(prior, dict) else None
            what = f"the part of a class of the prior '{name or type(self.latent_prior).__name__}'"
            check_sampled(lambda: self.latent_prior.for_labels(first, num_classes), what)
        self.contract = self.declare({"likelihood": likelihood})

    def condition(self, y: Tensor | None, n: int) -> Tensor:
        return one_hot_labels(y, self.num_classes, n, "labels y of the conditional model", self.anchor.dtype)

    def prior(self, n: int, y: Tensor | None = None) -> dist.Distribution:
        if not self.prior_by_label:
            return super().prior(n, y)
        self.condition(y, n)  # checks the labels
        return self.latent_prior.for_labels(y.long(), self.num_classes)


def check_input(x: Tensor | None, x_shape: tuple[int, ...]) -> Tensor:
    """The input x of a structured-output model, (N, *x_shape); a ValueError says what is wrong."""
    if x is None:
        raise ValueError(f"a structured-output model needs its input x, shape (N, {', '.join(map(str, x_shape))})")
    if tuple(x.shape[1:]) != tuple(x_shape):
        raise ValueError(f"the input x must have examples of shape {tuple(x_shape)}, got {tuple(x.shape[1:])}")
    return x


@register_model("structured_cvae")
class StructuredOutputCVAE(nn.Module):
    """p(z | x) p(y | x, z): prior network Normal(mu(x), diag sigma(x)^2) of ``latent_dim``,
    generation network ``decoder([z, x])`` into the likelihood over y (N, *y_shape).

    Observed site ``y`` (the output); ``x`` (N, *x_shape) is the input and is required.
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract(options, observed="y", conditioning=Conditioning.INPUT)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        y_shape: tuple[int, ...],
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        latent_dim: int = 200,
        prior_net: Any = "mlp",
        decoder: Any = "mlp",
        levels: int | None = None,
        min_scale: float = 1e-3,
    ):
        super().__init__()
        self.contract = self.declare({"likelihood": likelihood})
        self.x_shape, self.y_shape = tuple(x_shape), tuple(y_shape)
        self.latent_dim, self.min_scale = check_latent_dim(latent_dim), min_scale
        self.likelihood = make_likelihood(likelihood, y_shape, levels, likelihood_options)
        self.prior_net = build_network(prior_net, x_shape, (2 * latent_dim,), 0, "model.prior_net")
        x_dim = math.prod(x_shape)
        self.decoder = build_network(decoder, (latent_dim + x_dim,), self.likelihood.param_shape, 0, "model.decoder")

    def prior(self, x: Tensor) -> dist.Distribution:
        """p(z | x): batch shape (N,), event shape (latent_dim,)."""
        return diagonal_normal(self.prior_net(x), self.min_scale)

    def decode(self, z: Tensor, x: Tensor) -> dist.Distribution:
        """p(y | x, z) for z of shape (..., N, latent_dim)."""
        flat = x.reshape(x.shape[0], -1)
        return self.likelihood(self.decoder(torch.cat([z, flat.expand(*z.shape[:-1], flat.shape[-1])], dim=-1)))

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and ``y`` (observed when ``y`` is given) for every input row of ``x``."""
        x = check_input(x, self.x_shape)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", self.prior(x))
            return pyro.sample("y", self.decode(z, x), obs=y)


@register_model("baseline_predictor")
class BaselinePredictor(nn.Module):
    """p(y | x) = likelihood(network(x)): the deterministic baseline, no latent variable (guide ``none``).

    Its log-likelihood is exact: the ELBO with an empty guide is log p(y | x) itself.
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract(options, observed="y", conditioning=Conditioning.INPUT, latent=False)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        y_shape: tuple[int, ...],
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        network: Any = "mlp",
        levels: int | None = None,
    ):
        super().__init__()
        self.contract = self.declare({"likelihood": likelihood})
        self.x_shape, self.y_shape = tuple(x_shape), tuple(y_shape)
        self.likelihood = make_likelihood(likelihood, y_shape, levels, likelihood_options)
        self.network = build_network(network, x_shape, self.likelihood.param_shape, 0, "model.network")

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        x = check_input(x, self.x_shape)
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample("y", self.likelihood(self.network(x)), obs=y)
