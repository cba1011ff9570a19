"""Amortized encoders q(z|x) as Pyro guide functions."""

from ppl_vae.guides.conditional import ConditionalGaussianEncoder
from ppl_vae.guides.gaussian import AmortizedNormal, GaussianEncoder
from ppl_vae.guides.no_latents import NoLatents

__all__ = ["AmortizedNormal", "ConditionalGaussianEncoder", "GaussianEncoder", "NoLatents"]
