"""Amortized encoders q(z|x) as Pyro guide functions."""

from ppl_vae.guides.gaussian import GaussianEncoder

__all__ = ["GaussianEncoder"]
