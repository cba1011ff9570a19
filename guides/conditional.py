"""Amortized encoder of conditional models: q(z | x, y) = Normal(mu(x, y), diag sigma(x, y)^2).

For the class-conditioned VAE, y is a class label (fed as one-hot); for the structured-output
CVAE it is the output (the recognition network of Sohn et al. 2015).
"""

from __future__ import annotations

import math
from typing import Any

import pyro.distributions as dist
from torch import Tensor

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_guide
from ppl_vae.data.checks import one_hot_labels
from ppl_vae.guides.base import AmortizedGuide


@register_guide("conditional_encoder")
class ConditionalGaussianEncoder(AmortizedGuide):
    """q(z | x, y) from an encoder on x with condition c(y): one_hot(y) for labels, y flattened for outputs.

    ``y_shape`` and ``num_classes`` come from the data: a dataset with structured outputs sets
    ``y_shape``, a labelled one ``num_classes``.
    """

    contract = GuideContract(density=True)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        num_classes: int | None = None,
        y_shape: tuple[int, ...] | None = None,
        encoder: Any = "mlp",
        min_scale: float = 1e-4,
    ):
        if y_shape is None and num_classes is None:
            raise ConfigError(
                "a conditional encoder needs labels (num_classes) or outputs (y_shape): the data has none"
            )
        condition_dim = math.prod(y_shape) if y_shape is not None else num_classes
        super().__init__(x_shape, latent_dim, encoder, 2 * latent_dim, condition_dim)
        self.y_shape, self.num_classes = None if y_shape is None else tuple(y_shape), num_classes
        self.min_scale = min_scale

    def condition(self, y: Tensor | None, x: Tensor) -> Tensor:
        n = x.shape[0]
        if self.y_shape is None:
            return one_hot_labels(y, self.num_classes, n, "labels y given to the conditional encoder", x.dtype)
        if y is None or tuple(y.shape[1:]) != self.y_shape or y.shape[0] != n:
            shape = None if y is None else tuple(y.shape)
            raise ValueError(f"the conditional encoder needs outputs y of shape (N, *{self.y_shape}), got {shape}")
        return y.reshape(n, -1)

    def distribution(self, params: Tensor) -> dist.Distribution:
        return diagonal_normal(params, self.min_scale)
