"""Conditional generative models: the class-conditioned VAE and the structured-output CVAE.

Both reuse the likelihood modules of ``models/bernoulli.py`` and ``models/gaussian.py``
by registered name (``likelihood = "bernoulli"`` or ``"gaussian"``, with
``likelihood_options`` such as ``{scale = "decoder"}``).

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

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor

from ppl_vae.data import one_hot_labels
from ppl_vae.models.base import Decoder, LatentVariableModel, make_likelihood
from ppl_vae.nets import diagonal_normal, mlp
from ppl_vae.registry import register_model


@register_model("conditional_vae")
class LabelConditionedVAE(LatentVariableModel):
    """p(z) p(x | z, y): z ~ Normal(0, I), x from the likelihood of decoder([z, one_hot(y)]).

    ``y``: (N,) integer class labels 0 .. num_classes - 1, required (also to sample:
    ``model(y=labels, num_samples=len(labels))`` draws one x per label).
    """

    conditioning = "labels"

    def __init__(
        self,
        x_dim: int,
        num_classes: int,
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        latent_dim: int = 10,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
    ):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be a whole number >= 2, got {num_classes!r}")
        likelihood_module = make_likelihood(likelihood, x_dim, likelihood_options)
        super().__init__(x_dim, likelihood_module, latent_dim, hidden, activation, condition_dim=num_classes)
        self.num_classes = num_classes

    def condition(self, y: Tensor | None, n: int) -> Tensor:
        return one_hot_labels(y, self.num_classes, n, "labels y of the conditional model")


def check_input(x: Tensor | None, x_dim: int) -> Tensor:
    """The input x of a structured-output model, (N, x_dim); a ValueError says what is wrong."""
    if x is None:
        raise ValueError(f"a structured-output model needs its input x, shape (N, {x_dim})")
    if x.dim() != 2 or x.shape[1] != x_dim:
        raise ValueError(f"the input x must have shape (N, {x_dim}), got {tuple(x.shape)}")
    return x


@register_model("structured_cvae")
class StructuredOutputCVAE(PyroModule):
    """p(z | x) p(y | x, z): prior network Normal(mu(x), diag sigma(x)^2) of ``latent_dim``,
    generation network decoder([z, x]) into the likelihood over y (N, y_dim).

    Observed site ``y`` (the output); ``x`` (N, x_dim) is the input and is required.
    """

    observed = "y"
    conditioning = "input"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        latent_dim: int = 200,
        hidden: Sequence[int] = (500, 500),
        activation: str = "relu",
        min_scale: float = 1e-3,
    ):
        super().__init__()
        self.x_dim, self.y_dim, self.latent_dim, self.min_scale = x_dim, y_dim, latent_dim, min_scale
        likelihood_module = make_likelihood(likelihood, y_dim, likelihood_options)
        self.data_support = likelihood_module.support
        self.prior_net = mlp(x_dim, list(hidden), 2 * latent_dim, activation)
        self.decoder = Decoder(likelihood_module, y_dim, latent_dim, hidden, activation, condition_dim=x_dim)

    def prior(self, x: Tensor) -> dist.Distribution:
        """p(z | x): batch shape (N,), event shape (latent_dim,)."""
        return diagonal_normal(self.prior_net(x), self.min_scale)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and ``y`` (observed when ``y`` is given) for every input row of ``x``."""
        x = check_input(x, self.x_dim)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", self.prior(x))
            return pyro.sample("y", self.decoder(z, x), obs=y)


@register_model("baseline_predictor")
class BaselinePredictor(PyroModule):
    """p(y | x) = likelihood(net(x)): the deterministic baseline, no latent variable (guide ``none``).

    Its log-likelihood is exact: the ELBO with an empty guide is log p(y | x) itself.
    """

    observed = "y"
    conditioning = "input"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        likelihood: str = "bernoulli",
        likelihood_options: dict | None = None,
        hidden: Sequence[int] = (500, 500),
        activation: str = "relu",
    ):
        super().__init__()
        self.x_dim, self.y_dim = x_dim, y_dim
        self.likelihood = make_likelihood(likelihood, y_dim, likelihood_options)
        self.data_support = self.likelihood.support
        self.net = mlp(x_dim, list(hidden), self.likelihood.outputs_per_dim * y_dim, activation)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        x = check_input(x, self.x_dim)
        with pyro.plate("data", x.shape[0]):
            return pyro.sample("y", self.likelihood(self.net(x)), obs=y)
