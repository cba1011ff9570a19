"""Generative models as Pyro model functions: one module per likelihood, one per family."""

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.bernoulli import BernoulliLikelihood, BernoulliVAE
from ppl_vae.models.conditional import BaselinePredictor, LabelConditionedVAE, StructuredOutputCVAE
from ppl_vae.models.gaussian import GaussianLikelihood, GaussianVAE
from ppl_vae.models.implicit import ImplicitGenerator
from ppl_vae.models.likelihood import Dequantized, Likelihood
from ppl_vae.models.linear_gaussian import LinearGaussianModel
from ppl_vae.models.logistic import DiscretizedLogistic, DiscretizedLogisticLikelihood, DiscretizedLogisticVAE
from ppl_vae.models.priors import CircleMixture, GaussianMixture, Prior, StandardNormal, SwissRoll
from ppl_vae.models.semi_supervised import SemiSupervisedVAE

__all__ = [
    "BaselinePredictor",
    "BernoulliLikelihood",
    "BernoulliVAE",
    "CircleMixture",
    "Dequantized",
    "DiscretizedLogistic",
    "DiscretizedLogisticLikelihood",
    "DiscretizedLogisticVAE",
    "GaussianLikelihood",
    "GaussianMixture",
    "GaussianVAE",
    "ImplicitGenerator",
    "LabelConditionedVAE",
    "LatentVariableModel",
    "Likelihood",
    "LinearGaussianModel",
    "Prior",
    "SemiSupervisedVAE",
    "StandardNormal",
    "StructuredOutputCVAE",
    "SwissRoll",
]
