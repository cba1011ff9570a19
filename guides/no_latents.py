"""The empty guide, for models without latent variables (such as ``baseline_predictor``)."""

from __future__ import annotations

from torch import Tensor, nn

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.registry import register_guide


@register_guide("none")
class NoLatents(nn.Module):
    """Samples nothing: with it, the ELBO of a model without latents is its exact log-likelihood."""

    contract = GuideContract(density=True)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> None:
        return None
