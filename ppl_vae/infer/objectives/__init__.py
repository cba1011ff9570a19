"""Training objectives: one file per bound, each registered by name (``training.objective``).

An objective is a factory registered with ``@register_objective("name")``, called as
``factory(num_particles=K, max_plate_nesting=P, **options)`` (``options``: the other keys of a
``[training.objective]`` table) and returning a Pyro ``ELBO`` whose ``differentiable_loss(model,
guide, x, y=...)`` is the negative bound summed over the batch, in nats; calling it on a model and
a guide gives Pyro's ``ELBOModule``, one ``torch.nn.Module`` holding both (Pyro's documented
PyTorch route). Registration metadata ``importance_weighted=True`` says that the bound is the
importance-weighted one with K particles: the trainer then validates with the IW-K bound;
``reparameterized=True`` that its gradient needs every site of the guide drawn by reparameterization
(a pair whose guide is not is refused in one sentence before training). A new
bound subclasses :class:`~ppl_vae.infer.objectives.base.Objective` and writes its
``differentiable_loss``, usually from the per-example log-weights of ``ppl_vae.infer.weights``.

Built in:

- ``trace_elbo`` (:mod:`.trace_elbo`): :class:`pyro.infer.Trace_ELBO`, Monte Carlo KL (any guide).
- ``analytic_kl`` (:mod:`.analytic_kl`): :class:`pyro.infer.TraceMeanField_ELBO`, the KL term in closed
  form where ``kl_divergence`` is registered for the guide/prior pair (lower variance).
- ``iwae`` (:mod:`.iwae`): the bound of Burda et al. (2016) with K vectorized particles.
- ``iwae_dreg`` (:mod:`.dreg`): the same bound with the doubly reparameterized gradient of Tucker et al.
  (2019) for the guide: lower variance, the same expectation.

:class:`~ppl_vae.infer.objectives.kl_weight.KLWeight` weights the latent term (beta, warm-up) of any of them.
"""

from __future__ import annotations

from typing import Any

from ppl_vae.core.construct import construct
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import OBJECTIVES


def make_objective(name: str, num_particles: int = 1, max_plate_nesting: int = 1, **options: Any):
    """The objective registered as ``name`` with K = ``num_particles`` and its ``options``: a Pyro ``ELBO``."""
    context = {"num_particles": num_particles, "max_plate_nesting": max_plate_nesting}
    objective = construct(OBJECTIVES, {"name": name, **options}, context, "training.objective")
    if not callable(getattr(objective, "differentiable_loss", None)) or not callable(objective):
        raise ConfigError(
            f"objective '{name}' returned a {type(objective).__name__}, which has no differentiable_loss: the engine "
            "trains through it (Pyro's RenyiELBO has none); subclass ppl_vae.infer.objectives.base.Objective"
        )
    return objective


def validation_particles(name: str, num_particles: int) -> int:
    """K of the validation bound of objective ``name``: ``num_particles`` for an importance-weighted bound
    (registered with ``importance_weighted=True``), else 1 (the ELBO)."""
    return num_particles if OBJECTIVES.metadata(name).get("importance_weighted") else 1


def refuse_unreparameterized(name: str, pair) -> None:
    """A ConfigError when objective ``name`` needs reparameterized guide sites and ``pair``'s guide draws some
    otherwise (as recorded by its pairing check)."""
    if not OBJECTIVES.metadata(name).get("reparameterized") or pair.pairing is None:
        return
    plain = [site for site in pair.pairing.latent_sites if site not in pair.pairing.reparameterized]
    if plain:
        raise ConfigError(
            f"objective '{name}' differentiates through the guide's draws, but guide '{pair.guide_name}' draws "
            f"{', '.join(map(repr, plain))} without reparameterization: use trace_elbo, or a guide with rsample"
        )
