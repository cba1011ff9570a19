"""The guide of the semi-supervised VAE (M2, Kingma et al. 2014, eq. 4): a classifier q(y | x) and q(z | x, y).

q(y | x) = Categorical(logits = classifier(x)) infers the label where it is hidden; q(z | x, y) =
Normal(mu(x, y), diag sigma(x, y)^2) from an encoder on x with one_hot(y) as its condition. Where the
batch's labels are given, the guide samples z alone (the label is observed in the model). Under
``TraceEnum_ELBO`` the label site is enumerated: y takes every class at once (shape (C, 1)) and the
encoder reads x once per class.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
from torch import Tensor

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_guide
from ppl_vae.data.labelled import given_labels, one_hot
from ppl_vae.guides.base import AmortizedGuide
from ppl_vae.networks import build_network


@register_guide("semi_supervised_encoder")
class SemiSupervisedEncoder(AmortizedGuide):
    """q(y | x) q(z | x, y): ``classifier`` (a network spec, ``[guide.classifier]``) maps x to ``num_classes``
    logits; ``encoder`` (``[guide.encoder]``) maps x with the condition one_hot(y) to the loc and raw scale of z
    (scale = ``min_scale`` + softplus(raw)). ``num_classes`` comes from the data."""

    contract = GuideContract(density=True, covers=("y", "z"))

    def __init__(
        self,
        x_shape: tuple[int, ...],
        num_classes: int | None = None,
        latent_dim: int = 10,
        encoder: Any = "mlp",
        classifier: Any = "mlp",
        min_scale: float = 1e-4,
    ):
        if num_classes is None:
            raise ConfigError("the semi-supervised encoder needs class labels (num_classes): the data has none")
        super().__init__(x_shape, latent_dim, encoder, 2 * latent_dim, condition_dim=num_classes)
        self.num_classes, self.min_scale = num_classes, min_scale
        self.classifier = build_network(classifier, self.x_shape, (num_classes,), 0, "guide.classifier")

    def classify(self, x: Tensor) -> dist.Distribution:
        """q(y | x) for x (N, *x_shape): batch shape (N,), over the classes 0 .. num_classes - 1."""
        return dist.Categorical(logits=self.classifier(x))

    def condition(self, y: Tensor | None, x: Tensor) -> Tensor:
        """one_hot(y) (..., N, num_classes) in x's dtype, for labels y (..., N)."""
        return one_hot(y, self.num_classes, x.dtype)

    def posterior(self, x: Tensor, y: Tensor | None = None) -> dist.Distribution:
        """q(z | x, y) for labels y of shape (..., N) (given, drawn or enumerated): batch shape (..., N), event
        shape (latent_dim,); x (N, *x_shape) is read once per leading index of y."""
        condition = self.condition(y, x)
        inputs = self.corrupted(x)
        if condition.dim() > 2:
            inputs = inputs.expand(*condition.shape[:-2], *x.shape)
        return self.distribution(self.encoder(inputs, condition))

    def distribution(self, params: Tensor) -> dist.Distribution:
        return diagonal_normal(params, self.min_scale)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``y`` ~ q(y | x) where the batch's labels are hidden, then ``z`` ~ q(z | x, y), in the ``data``
        plate."""
        if x is None:
            raise ValueError("the semi-supervised encoder needs data x")
        n = x.shape[0]
        given = given_labels(y, self.num_classes, n, "labels y given to the semi-supervised encoder")
        with pyro.plate("data", n, device=x.device):
            label = given if given is not None else pyro.sample("y", self.classify(x))
            return pyro.sample("z", self.posterior(x, label))
