r"""Priors p(z) by name, for any latent-variable model (``prior = "normal"`` or a table in ``[model]``).

The contract of a prior (``@register_prior("name")``): a ``torch.nn.Module`` built as
``Prior(latent_dim, **options)`` whose :meth:`Prior.distribution` returns a distribution with batch
shape (n,) and event shape (latent_dim,) that can be sampled (refused otherwise: an adversarial
autoencoder's discriminator learns from its draws, and figures draw from it) and scored (the
ELBO of a VAE scores it, by Monte Carlo when no closed-form KL exists).

Built in:

- ``normal``: Normal(0, I).
- ``gaussian_mixture``: an equal mixture of ``components`` Gaussians whose means sit evenly on a
  circle of ``radius`` in the first two latent dimensions, with standard deviation ``scale`` there
  and 1 in the other dimensions (Makhzani et al. 2016, figure 4, with round components).
- ``swiss_roll``: the 2-D swiss roll of the same paper, as an exact density: an equal mixture
  of ``components`` Gaussians (standard deviation ``scale``) whose means follow the spiral
  r = ``radius`` * t, angle = 3 pi t, t in [0.1, 1], in the first two dimensions; 1 elsewhere.

A mixture prior can also hand each example its label's part (:meth:`Prior.for_labels`): with C
classes, class c owns the c-th of C equal runs of consecutive components (one component each
when ``components`` = C; a segment of the roll for the swiss roll).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pyro.distributions as dist
import torch
from torch import Tensor, nn

from ppl_vae.core.construct import as_table, construct
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import PRIORS, register_prior


class Prior(nn.Module):
    """Base of priors: ``latent_dim`` and a buffer that follows the model's device and dtype."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("anchor", torch.zeros(()), persistent=False)

    def distribution(self, n: int) -> dist.Distribution:
        """p(z) for n examples: batch shape (n,), event shape (latent_dim,)."""
        raise NotImplementedError

    def for_labels(self, labels: Tensor, num_classes: int) -> dist.Distribution:
        """p(z | c) for labels (n,) of ``num_classes`` classes, each example its class's part of the prior."""
        raise ConfigError(f"the prior {type(self).__name__} has no parts to give to classes; use a mixture prior")


@register_prior("normal")
class StandardNormal(Prior):
    """Normal(0, I)."""

    def distribution(self, n: int) -> dist.Distribution:
        return dist.Normal(self.anchor, 1.0).expand([n, self.latent_dim]).to_event(1)


class GaussianMixture(Prior):
    """An equal mixture of isotropic Gaussians with means ``means`` (M, 2) in the first two dimensions
    (0 elsewhere) and standard deviation ``scale`` there, 1 in the other dimensions."""

    def __init__(self, latent_dim: int, means: Tensor, scale: float):
        super().__init__(latent_dim)
        if latent_dim < 2:
            raise ConfigError(f"the prior {type(self).__name__} needs at least 2 latent dimensions, got {latent_dim}")
        if not scale > 0:
            raise ConfigError(f"the prior's scale must be positive, got {scale}")
        locations = torch.zeros(len(means), latent_dim, dtype=torch.float64)
        locations[:, :2] = means
        scales = torch.ones(latent_dim, dtype=torch.float64)
        scales[:2] = scale
        self.register_buffer("locations", locations.float(), persistent=False)
        self.register_buffer("scales", scales.float(), persistent=False)

    @property
    def components(self) -> int:
        return len(self.locations)

    def _mixture(self, logits: Tensor) -> dist.Distribution:
        """The mixture with component logits (n, M): batch shape (n,)."""
        component = dist.Normal(self.locations, self.scales).to_event(1).expand([logits.shape[0], self.components])
        return dist.MixtureSameFamily(dist.Categorical(logits=logits), component)

    def distribution(self, n: int) -> dist.Distribution:
        return self._mixture(self.locations.new_zeros(n, self.components))

    def for_labels(self, labels: Tensor, num_classes: int) -> dist.Distribution:
        if self.components % num_classes:
            raise ConfigError(
                f"the prior's {self.components} components cannot be shared equally among {num_classes} classes; "
                "choose a multiple of the class count"
            )
        run = self.components // num_classes
        owner = torch.arange(self.components, device=labels.device) // run
        logits = torch.where(owner == labels[:, None], 0.0, -math.inf).to(self.locations.dtype)
        return self._mixture(logits)


@register_prior("gaussian_mixture")
class CircleMixture(GaussianMixture):
    """``components`` Gaussians on a circle of ``radius`` (see the module text)."""

    def __init__(self, latent_dim: int, components: int = 10, radius: float = 4.0, scale: float = 0.5):
        _check_components(components)
        angle = 2 * math.pi * torch.arange(components, dtype=torch.float64) / components
        super().__init__(latent_dim, radius * torch.stack([angle.cos(), angle.sin()], dim=1), scale)


@register_prior("swiss_roll")
class SwissRoll(GaussianMixture):
    """The swiss roll as a mixture of ``components`` Gaussians along the spiral (see the module text)."""

    def __init__(self, latent_dim: int, components: int = 200, radius: float = 4.0, scale: float = 0.15):
        _check_components(components)
        t = torch.linspace(0.1, 1.0, components, dtype=torch.float64)
        angle = 3 * math.pi * t
        super().__init__(latent_dim, radius * t[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1), scale)


def _check_components(components: Any) -> None:
    if not isinstance(components, int) or isinstance(components, bool) or components < 1:
        raise ConfigError(f"the prior's components must be a positive whole number, got {components!r}")


def build_prior(spec: str | dict[str, Any] | Prior, latent_dim: int) -> Prior:
    """The prior named by ``spec`` (a name or a table with ``name`` and options), or ``spec`` itself; refused in
    one sentence when its distribution cannot be sampled."""
    if isinstance(spec, Prior):
        prior, name = spec, type(spec).__name__
    else:
        table = as_table(spec, "model.prior")
        prior, name = construct(PRIORS, table, {"latent_dim": latent_dim}, "model.prior"), table["name"]
    check_sampled(lambda: prior.distribution(2), f"the prior '{name}'")
    return prior


def check_sampled(distribution: Callable[[], dist.Distribution], what: str) -> None:
    """Refuse, in one sentence naming ``what``, a distribution (made by ``distribution()``) that cannot be sampled;
    draws nothing from the caller's random stream."""
    try:
        with torch.random.fork_rng(devices=[]):
            distribution().sample()
    except NotImplementedError:
        raise ConfigError(
            f"{what} cannot be sampled: models draw their latents from it (prior samples, the draws an "
            "adversarial autoencoder's discriminator learns from); give its distribution a sample method"
        ) from None
