"""Scaffolding shared by every model: the prior, the data plate, the MLP decoder.

A model is p(z) p(x | z) with z ~ Normal(0, I_latent_dim). What differs between
models is the likelihood, a module (``models/bernoulli.py``, ``models/gaussian.py``)
that turns decoder output into a distribution over x; conditional variants
(``models/conditional.py``) also feed what they condition on to the decoder.

Models say what they are with two class attributes that the engine reads:
``observed``, the argument and sample site their likelihood scores (``"x"``, or
``"y"`` for a structured-output model), and ``conditioning``, what the other argument
is (``None``: ignored; ``"labels"``: class labels y; ``"input"``: an input x).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule
from torch import Tensor

from ppl_vae.nets import concat_condition, mlp
from ppl_vae.registry import LIKELIHOODS


def plate_size(x: Tensor | None, num_samples: int | None) -> int:
    """Examples in the ``data`` plate: ``x.shape[0]`` when data is given, else ``num_samples``."""
    if x is not None:
        return x.shape[0]
    if num_samples is None or num_samples < 1:
        raise ValueError("give data x or a positive num_samples to draw from the model")
    return num_samples


def make_likelihood(name: str, data_dim: int, options: dict | None = None) -> PyroModule:
    """The likelihood module registered as ``name`` (``"bernoulli"``, ``"gaussian"``), with its options."""
    constructor = LIKELIHOODS.get(name)
    try:
        return constructor(data_dim, **(options or {}))
    except TypeError as error:
        raise ValueError(f"bad option for the {name} likelihood: {error}") from error


class Decoder(PyroModule):
    """p(data | z, c): an MLP on [z, c] whose output the ``likelihood`` module turns into a distribution.

    z: (..., N, latent_dim); c: (N, condition_dim) or None; the distribution has batch
    shape (..., N) and event shape (data_dim,).
    """

    def __init__(
        self,
        likelihood: PyroModule,
        data_dim: int,
        latent_dim: int,
        hidden: Sequence[int],
        activation: str,
        condition_dim: int = 0,
    ):
        super().__init__()
        self.likelihood = likelihood
        self.net = mlp(latent_dim + condition_dim, list(hidden), likelihood.outputs_per_dim * data_dim, activation)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> dist.Distribution:
        return self.likelihood(self.net(concat_condition(z, condition)))


class LatentVariableModel(PyroModule):
    """p(z) p(x | z, c): z ~ Normal(0, I) of ``latent_dim``, x of ``x_dim`` from ``likelihood``.

    ``condition_dim`` > 0 feeds a per-example condition c (N, condition_dim) to the decoder
    (see :meth:`condition`); unconditional models have none and ignore ``y``.
    """

    observed = "x"
    conditioning: str | None = None

    def __init__(
        self,
        x_dim: int,
        likelihood: PyroModule,
        latent_dim: int = 10,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        condition_dim: int = 0,
    ):
        super().__init__()
        self.x_dim = x_dim
        self.latent_dim = latent_dim
        self.data_support = likelihood.support
        self.decoder = Decoder(likelihood, x_dim, latent_dim, hidden, activation, condition_dim)
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def prior(self, n: int) -> dist.Distribution:
        """p(z): Normal(0, I), batch shape (n,), event shape (latent_dim,)."""
        return dist.Normal(self._zero, 1.0).expand([n, self.latent_dim]).to_event(1)

    def condition(self, y: Tensor | None, n: int) -> Tensor | None:
        """What the decoder is given besides z, (n, condition_dim); None for unconditional models."""
        return None

    def decode(self, z: Tensor, condition: Tensor | None = None) -> dist.Distribution:
        """p(x | z, c) for latents z of shape (..., N, latent_dim)."""
        return self.decoder(z, condition)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and ``x`` (observed when ``x`` is given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        condition = self.condition(y, n)
        with pyro.plate("data", n):
            z = pyro.sample("z", self.prior(n))
            return pyro.sample("x", self.decode(z, condition), obs=x)
