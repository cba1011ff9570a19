"""Generative models p(z) p(x|z) as Pyro model functions, one module per likelihood."""

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.bernoulli import BernoulliVAE
from ppl_vae.models.gaussian import GaussianVAE
from ppl_vae.models.linear_gaussian import LinearGaussianModel

__all__ = ["BernoulliVAE", "GaussianVAE", "LatentVariableModel", "LinearGaussianModel"]
