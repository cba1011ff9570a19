"""What a model or a guide declares about itself, read by the engine before anything is built.

A model class says it once, as a class attribute ``contract = ModelContract(...)`` (or, when
the declaration depends on constructor options such as the chosen likelihood, with a
classmethod ``declare(options) -> ModelContract``); a factory function says it when it is
registered (``register_model("name", contract=ModelContract(...))``). Guides likewise with
:class:`GuideContract`. The engine reads nothing else: which data field is scored and how it
is checked, binarized or dequantized, which reports and figures apply, whether importance
weighting can measure the pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from torch.distributions import constraints
from torch.distributions.constraints import Constraint

from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import GUIDES, MODELS, Registry


class Conditioning(enum.Enum):
    """What a model's other argument is: nothing, class labels y, or an input x (structured outputs)."""

    NONE = "none"
    LABELS = "labels"
    INPUT = "input"


class _Levels(constraints.Constraint):
    """The values k / (L - 1), k = 0 .. L - 1, of discrete data with L levels (L is the data's)."""

    is_discrete = True
    event_dim = 0

    def check(self, value):
        return (value >= 0) & (value <= 1)


levels = _Levels()

UNLABELLED = -1  # a hidden class label in y (partially labelled data, ppl_vae.data.labelled)
LABEL_SITE = "y"  # the class label's site: observed, or latent where ModelContract.label_latent

SUPPORTS = {
    "binary": constraints.boolean,
    "levels": levels,
    "unit_interval": constraints.unit_interval,
    "real": constraints.real,
}


def support_name(support: Constraint) -> str:
    """``"binary"``, ``"levels"``, ``"unit_interval"`` or ``"real"`` for the supports a likelihood may declare."""
    for name, constraint in SUPPORTS.items():
        if support is constraint:
            return name
    raise ValueError(
        f"unsupported data support {support!r}; declare one of constraints.boolean, ppl_vae.core.contract.levels, "
        "constraints.unit_interval or constraints.real"
    )


@dataclass(frozen=True)
class ModelContract:
    """A model p(z) p(obs | z, c), as the engine needs to know it.

    ``support``: where each observed value lives: ``constraints.boolean`` for a Bernoulli
    likelihood; :data:`levels` for a probability mass over the data's grey levels (a
    discretized likelihood, given the data's number of levels); ``constraints.unit_interval``
    or ``constraints.real`` for continuous densities, which dequantize discrete data.
    ``observed``: the sample site and argument the likelihood scores, ``"x"`` or, for
    structured outputs, ``"y"``. ``conditioning``: what the other argument is. ``latent``:
    whether there are latent sites (without, the likelihood is exact). ``density``: False for an
    implicit model (a GAN's generator: x a deterministic function of z, samples but no
    likelihood), whose latents no guide infers and which nothing scores.

    ``latents``: the names of the latent sample sites, in the order the model samples them
    (default ``("z",)`` for a model with latents, ``()`` without); the pairing check verifies that
    the model samples exactly these. ``code``: the latent site that views, probes, the aggregate
    posterior and adversarial regularization read as "the code" of an example (default the first).

    A label-conditioned model that lists ``"y"`` among its ``latents`` treats the class label as a latent
    site (:attr:`label_latent`: semi-supervised learning, Kingma et al. 2014): it observes ``y`` where the
    data gives it and samples it from p(y) where the label is hidden (``None``, or every entry
    :data:`UNLABELLED`); its guide then infers it with a classifier q(y | x), and its figures are log p(x)
    with the label summed out.
    """

    support: Constraint
    observed: str = "x"
    conditioning: Conditioning = Conditioning.NONE
    latent: bool = True
    density: bool = True
    latents: tuple[str, ...] | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        support_name(self.support)
        if self.observed not in ("x", "y"):
            raise ValueError(f"ModelContract.observed must be 'x' or 'y', got {self.observed!r}")
        if self.conditioning is Conditioning.INPUT and self.observed != "y":
            raise ValueError("a model conditioned on an input x must observe its output 'y'")
        latents = tuple(self.latents) if self.latents is not None else (("z",) if self.latent else ())
        if self.latent != bool(latents):
            raise ValueError(f"ModelContract(latent={self.latent}) contradicts latents={latents}")
        if self.observed in latents:
            raise ValueError(f"the observed site '{self.observed}' cannot be a latent site too")
        code = self.code if self.code is not None else (latents[0] if latents else None)
        if latents and code not in latents:
            raise ValueError(f"ModelContract.code {code!r} is not one of the latent sites {latents}")
        object.__setattr__(self, "latents", latents)
        object.__setattr__(self, "code", code)

    @property
    def label_latent(self) -> bool:
        """True when the class label ``y`` is a latent site, observed only where the data gives it."""
        return self.conditioning is Conditioning.LABELS and LABEL_SITE in self.latents

    @property
    def discrete(self) -> bool:
        """True for a probability mass (on {0, 1} or on the data's levels); False for a density."""
        return self.support is constraints.boolean or self.support is levels

    @property
    def generates_images(self) -> bool:
        """True when the observed field is the whole data point x (not an output given an input)."""
        return self.observed == "x"


@dataclass(frozen=True)
class GuideContract:
    """A guide q(z | x, ...). ``density``: False for a deterministic encoder (a ``Delta`` on z),
    whose log-weights say nothing about log p(x): importance weighting refuses it. ``covers``: the
    latent sites it samples (None: whatever it samples, which the pairing check compares with the
    model's by name); given, the pairing check verifies that it samples exactly these."""

    density: bool = True
    covers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.covers is not None:
            object.__setattr__(self, "covers", tuple(self.covers))


def _declared(registry: Registry, name: str, options: dict[str, Any], kind: type) -> Any:
    constructor = registry.get(name)
    contract = registry.metadata(name).get("contract")
    if contract is None and hasattr(constructor, "declare"):
        contract = constructor.declare(options)
    elif contract is None:
        contract = getattr(constructor, "contract", None)
    if not isinstance(contract, kind):
        raise ConfigError(
            f"{registry.kind} '{name}' declares no {kind.__name__}: give its class a `contract = "
            f"{kind.__name__}(...)` attribute, or register it with register_{registry.kind}('{name}', "
            f"contract={kind.__name__}(...))"
        )
    return contract


def model_contract(name: str, options: dict[str, Any]) -> ModelContract:
    """The declaration of the model registered as ``name``, built with constructor ``options``."""
    return _declared(MODELS, name, options, ModelContract)


def guide_contract(name: str, options: dict[str, Any]) -> GuideContract:
    """The declaration of the guide registered as ``name``."""
    return _declared(GUIDES, name, options, GuideContract)
