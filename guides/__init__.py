"""Amortized encoders q(z|x) as Pyro guide functions."""

from ppl_vae.guides.base import AmortizedGuide
from ppl_vae.guides.conditional import ConditionalGaussianEncoder
from ppl_vae.guides.delta import DeltaEncoder
from ppl_vae.guides.gaussian import GaussianEncoder
from ppl_vae.guides.no_latents import NoLatents
from ppl_vae.guides.semi_supervised import SemiSupervisedEncoder

__all__ = [
    "AmortizedGuide",
    "ConditionalGaussianEncoder",
    "DeltaEncoder",
    "GaussianEncoder",
    "NoLatents",
    "SemiSupervisedEncoder",
]
