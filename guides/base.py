"""What every amortized guide shares: an encoder network on x (and a condition), and the data plate.

A guide is a ``torch.nn.Module`` whose ``forward(x, y=None, num_samples=None)`` is a Pyro guide
function: inside ``pyro.plate("data", N)`` it samples every latent site of the model (``"z"``)
from a distribution whose parameters the encoder computes. Its class declares
``contract = GuideContract(density=...)``: False for a deterministic encoder.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor, nn

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.sizes import check_latent_dim
from ppl_vae.networks import build_network

CORRUPTIONS = ("none", "mask", "gaussian")


class AmortizedGuide(nn.Module):
    """q(z | x, c) of ``latent_dim`` latents from ``outputs`` encoder outputs per example; c from :meth:`condition`.

    A subclass writes :meth:`distribution` (its family, given the encoder's output), or :meth:`posterior`
    when the family needs more than that output.

    ``corruption`` makes a denoising encoder (Vincent et al. 2008): while training, and only then,
    the encoder reads a corrupted x: ``"mask"`` sets each value to 0 with probability ``noise``,
    ``"gaussian"`` adds Normal(0, noise^2) noise. The model still scores the clean x.
    """

    contract: ClassVar[GuideContract]
    site: ClassVar[str] = "z"  # the latent site it samples

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int,
        encoder: Any,
        outputs: int,
        condition_dim: int = 0,
        corruption: str = "none",
        noise: float = 0.0,
    ):
        super().__init__()
        if corruption not in CORRUPTIONS:
            raise ConfigError(f"unknown corruption '{corruption}'; valid corruptions: {', '.join(CORRUPTIONS)}")
        if not 0 <= noise < (1 if corruption == "mask" else float("inf")):
            raise ConfigError(f"noise must be in [0, 1) for masking and non-negative otherwise, got {noise}")
        self.x_shape = tuple(x_shape)
        self.latent_dim = check_latent_dim(latent_dim)
        self.corruption, self.noise = corruption, noise
        self.encoder = build_network(encoder, self.x_shape, (outputs,), condition_dim, "guide.encoder")

    def corrupted(self, x: Tensor) -> Tensor:
        """x as the encoder reads it: corrupted while training a denoising encoder, else unchanged."""
        if not self.training or self.corruption == "none" or self.noise == 0:
            return x
        if self.corruption == "mask":
            return x * (torch.rand_like(x) >= self.noise).to(x.dtype)
        return x + self.noise * torch.randn_like(x)

    def condition(self, y: Tensor | None, x: Tensor) -> Tensor | None:
        """What the encoder reads besides x (N, *x_shape): (N, condition_dim) in x's dtype; None if nothing."""
        return None

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Encoder output (N, outputs) for x (N, *x_shape): the parameters of q(z | x) in the guide's family."""
        return self.encoder(self.corrupted(x), self.condition(y, x))

    def distribution(self, params: Tensor) -> dist.Distribution:
        """The guide's family: q(z) for encoder output ``params`` (N, outputs), batch shape
        (N,), event shape (latent_dim,). The amortization gap (the ELBO lost by predicting ``params`` with one
        network instead of choosing them per example) is measured by optimizing ``params`` per example."""
        raise NotImplementedError

    def posterior(self, x: Tensor, y: Tensor | None = None) -> dist.Distribution:
        """q(z | x, ...) = ``distribution(encode(x, y))``: batch shape (N,), event shape (latent_dim,)."""
        return self.distribution(self.encode(x, y))

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples the latent site ``site`` for every example of ``x`` (N, *x_shape) inside the ``data`` plate."""
        if x is None:
            raise ValueError(f"the guide {type(self).__name__} needs data x")
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample(self.site, self.posterior(x, y))
