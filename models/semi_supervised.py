"""The semi-supervised VAE (M2 of Kingma, Rezende, Mohamed & Welling 2014): the class label as a latent site.

p(y) p(z) p(x | y, z) (eq. 2 of the paper): y ~ Categorical(1 / C) (uniform over the C classes), z from the
prior (Normal(0, I) by default), x from the likelihood of ``decoder([z, one_hot(y)])``. The same model function
serves labelled and unlabelled examples: given a batch's labels it observes ``y`` (its ELBO is a bound on
log p(x, y), eq. 6 of the paper); without them ``y`` is a latent site (a bound on log p(x), eq. 7), which its
guide infers with a classifier q(y | x) and which ``TraceEnum_ELBO`` sums out exactly
(``ppl_vae.infer.objectives.semi_supervised``).

Pair it with ``semi_supervised_encoder``. On the codes of a trained VAE (the ``codes`` dataset) with a Gaussian
likelihood it is M1+M2.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
from torch import Tensor

from ppl_vae.core.contract import Conditioning, ModelContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_model
from ppl_vae.data.labelled import given_labels, one_hot
from ppl_vae.models.base import LatentVariableModel, plate_size
from ppl_vae.models.likelihood import likelihood_contract, make_likelihood


@register_model("semi_supervised_vae")
class SemiSupervisedVAE(LatentVariableModel):
    """p(y) p(z) p(x | y, z), y uniform over ``num_classes`` (see the module text).

    ``forward(x=None, y=None, num_samples=None)``: ``y`` (N,) labels observes the label site; None, or every
    entry :data:`~ppl_vae.core.contract.UNLABELLED`, leaves it latent (a batch that mixes both is refused:
    training scores its two parts apart). To sample: ``model(num_samples=n)`` draws y ~ p(y);
    ``model(y=labels, num_samples=len(labels))`` draws one x per given label.
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract(options, conditioning=Conditioning.LABELS, latents=("y", "z"), code="z")

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
    ):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(f"num_classes must be a whole number >= 2, got {num_classes!r}")
        likelihood_module = make_likelihood(likelihood, x_shape, levels, likelihood_options)
        super().__init__(x_shape, likelihood_module, latent_dim, decoder, condition_dim=num_classes, prior=prior)
        self.num_classes = num_classes
        self.contract = self.declare({"likelihood": likelihood})

    def label_prior(self, n: int) -> dist.Distribution:
        """p(y): uniform over the classes, batch shape (n,)."""
        return dist.Categorical(logits=self.anchor.new_zeros(self.num_classes)).expand([n])

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``y`` (observed when every label of the batch is given), ``z`` and ``x`` (observed when given)
        inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        given = given_labels(y, self.num_classes, n, "labels y of the semi-supervised model")
        with pyro.plate("data", n, device=self.anchor.device):
            label = pyro.sample("y", self.label_prior(n), obs=given)
            z = pyro.sample("z", self.prior(n))
            return pyro.sample("x", self.decode(z, one_hot(label, self.num_classes, z.dtype)), obs=x)
