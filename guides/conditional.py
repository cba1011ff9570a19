"""Amortized encoder of conditional models: q(z | x, y) = Normal(mu(x, y), diag sigma(x, y)^2).

For the class-conditioned VAE, y is a class label (fed as one-hot); for the structured-output
CVAE it is the output (the recognition network of Sohn et al. 2015).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ppl_vae.data import one_hot_labels
from ppl_vae.guides.gaussian import AmortizedNormal
from ppl_vae.nets import concat_condition
from ppl_vae.registry import register_guide


@register_guide("conditional_encoder")
class ConditionalGaussianEncoder(AmortizedNormal):
    """q(z | x, y) from one MLP on [x, c(y)]: c(y) = y (N, y_dim) for outputs, one_hot(y) for labels.

    ``y_dim`` and ``num_classes`` come from the data: a dataset with structured outputs
    sets ``y_dim``, a labelled one ``num_classes``.
    """

    def __init__(
        self,
        x_dim: int,
        latent_dim: int = 10,
        num_classes: int | None = None,
        y_dim: int | None = None,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        min_scale: float = 1e-4,
    ):
        if y_dim is None and num_classes is None:
            raise ValueError("a conditional encoder needs labels (num_classes) or outputs (y_dim): the data has none")
        super().__init__(x_dim + (y_dim or num_classes), latent_dim, hidden, activation, min_scale)
        self.x_dim, self.y_dim, self.num_classes = x_dim, y_dim, num_classes

    def inputs(self, x: Tensor, y: Tensor | None) -> Tensor:
        if self.y_dim is None:
            condition = one_hot_labels(y, self.num_classes, x.shape[-2], "labels y given to the conditional encoder")
        elif y is None or y.shape[-1] != self.y_dim:
            shape = None if y is None else tuple(y.shape)
            raise ValueError(f"the conditional encoder needs outputs y of shape (N, {self.y_dim}), got {shape}")
        else:
            condition = y
        return concat_condition(x, condition)
