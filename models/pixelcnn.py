r"""Explicit densities by autoregression: the PixelCNN as a model, and as the likelihood p(x | z) of a VAE.

p(x | c) = prod_i p(x_i | x_<i, c) over the pixels in raster order, each factor from an
autoregressive network (``ppl_vae.networks.autoregressive``: ``pixelcnn`` or ``gated``) whose
per-pixel outputs go through a registered likelihood (``output``: ``bernoulli`` for binary
images, ``discretized_logistic`` for grey or colour levels): the log-likelihood is exact, one
network pass for all pixels; sampling takes one pass per pixel, H x W passes, batched over images.

- ``pixelcnn`` (:class:`PixelCNNModel`): no latent; pair it with guide ``none``. ``evaluate``
  gives its exact log-likelihood.
- ``pixel_vae`` (:class:`PixelVAE`, Gulrajani et al. 2017; Chen et al. 2017): z ~ p(z), and a
  small PixelCNN conditioned on a map of ``condition_channels`` x H x W that the ``decoder``
  network makes of z; usable with any guide of z.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor, nn

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_model
from ppl_vae.models.base import LatentVariableModel, plate_size
from ppl_vae.models.likelihood import Likelihood, likelihood_contract, make_likelihood
from ppl_vae.networks.autoregressive import autoregressive_network


class Autoregressive(dist.TorchDistribution):
    """p(x | c) = prod_i p(x_i | x_<i, c): batch shape ``batch_shape``, event shape (C, H, W).

    ``network(x, condition)`` gives the parameters of every pixel's factor at once; ``output`` turns them
    into the per-pixel distribution. ``condition``: (*batch_shape, K, H, W) or None; ``anchor``: a tensor
    of the dtype and device of draws. Its mean is not tractable: figures show draws instead.
    """

    arg_constraints: dict = {}

    def __init__(
        self, network: nn.Module, output: Likelihood, condition: Tensor | None, batch_shape, event_shape, anchor: Tensor
    ):
        self.network, self.output, self.condition, self.anchor = network, output, condition, anchor
        super().__init__(torch.Size(batch_shape), torch.Size(event_shape), validate_args=False)

    @property
    def support(self):
        return self.output.support

    def expand(self, batch_shape, _instance=None) -> Autoregressive:
        batch_shape = torch.Size(batch_shape)
        condition = None
        if self.condition is not None:
            condition = self.condition.expand(*batch_shape, *self.condition.shape[-3:])
        return Autoregressive(self.network, self.output, condition, batch_shape, self.event_shape, self.anchor)

    def factors(self, x: Tensor) -> dist.Distribution:
        """The per-pixel factors p(x_i | x_<i, c) given the earlier pixels of x (*lead, C, H, W)."""
        lead = x.shape[:-3]
        condition = self.condition
        if condition is not None:
            lead = torch.broadcast_shapes(lead, condition.shape[:-3])
            condition = condition.expand(*lead, *condition.shape[-3:]).reshape(-1, *condition.shape[-3:])
        images = x.expand(*lead, *x.shape[-3:]).reshape(-1, *x.shape[-3:])
        parameters = self.network(images, condition)
        return self.output(parameters.reshape(*lead, *parameters.shape[1:]))

    def log_prob(self, value: Tensor) -> Tensor:
        return self.factors(value).log_prob(value)

    def sample(self, sample_shape=()) -> Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape + self.event_shape
        with torch.no_grad():
            x = torch.zeros(shape, dtype=self.anchor.dtype, device=self.anchor.device)
            for row in range(shape[-2]):
                for column in range(shape[-1]):
                    x[..., row, column] = self.factors(x).sample()[..., row, column]
        return x

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError("the mean of an autoregressive distribution is not tractable; draw samples")


class AutoregressiveLikelihood(Likelihood):
    """p(x | c) of images ``event_shape`` (C, H, W) as an :class:`Autoregressive` distribution; ``param_shape`` is
    the conditioning map (``condition_channels``, H, W) (none when 0). ``output`` names the per-pixel
    likelihood (with ``output_options``), ``network`` the autoregressive network."""

    def __init__(
        self,
        event_shape: tuple[int, ...],
        levels: int | None = None,
        output: str = "bernoulli",
        output_options: dict | None = None,
        network: str = "gated",
        channels: int = 32,
        layers: int = 4,
        kernel: int = 7,
        condition_channels: int = 0,
    ):
        if len(event_shape) != 3:
            raise ConfigError(
                f"a PixelCNN models images (C, H, W); this data has examples of shape {tuple(event_shape)}"
            )
        super().__init__(event_shape, None)
        self.per_pixel = make_likelihood(output, event_shape, levels, output_options)
        self.support, self.levels = self.per_pixel.support, levels
        self.condition_channels = condition_channels
        out_channels = self.per_pixel.param_shape[0]
        self.register_buffer("anchor", torch.zeros(()), persistent=False)  # the dtype and device of draws
        self.network = autoregressive_network(
            network, event_shape[0], out_channels, channels, layers, kernel, condition_channels
        )

    @property
    def param_shape(self) -> tuple[int, ...]:
        return (self.condition_channels, *self.event_shape[1:])

    @property
    def sampling_passes(self) -> int:
        """Network passes per draw: one per pixel."""
        return self.event_shape[1] * self.event_shape[2]

    def forward(self, decoded: Tensor | None, batch_shape=()) -> Autoregressive:
        """p(x | c) for conditioning maps ``decoded`` (..., K, H, W) (batch shape ``decoded.shape[:-3]``), or, with
        no condition, of ``batch_shape``."""
        if decoded is not None:
            batch_shape = decoded.shape[:-3]
        return Autoregressive(self.network, self.per_pixel, decoded, batch_shape, self.event_shape, self.anchor)


@register_model("pixelcnn")
class PixelCNNModel(nn.Module):
    """p(x) = prod_i p(x_i | x_<i): an :class:`AutoregressiveLikelihood` without condition and without latents.

    Options: ``output`` (``bernoulli`` or ``discretized_logistic``), ``network`` (``gated``, ``pixelcnn`` or
    ``row_lstm``, the PixelRNN),
    ``channels``, ``layers``, ``kernel`` (of the first layer); ``levels`` comes from the data.
    """

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract({"likelihood": options.get("output", "bernoulli")}, latent=False)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        levels: int | None = None,
        output: str = "bernoulli",
        output_options: dict | None = None,
        network: str = "gated",
        channels: int = 32,
        layers: int = 4,
        kernel: int = 7,
    ):
        super().__init__()
        self.contract = self.declare({"output": output})
        self.x_shape = tuple(x_shape)
        self.likelihood = AutoregressiveLikelihood(
            x_shape, levels, output, output_options, network, channels, layers, kernel
        )

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``x`` (observed when given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        anchor = next(self.parameters())
        with pyro.plate("data", n, device=anchor.device):
            return pyro.sample("x", self.likelihood(None, (n,)), obs=x)


@register_model("pixel_vae")
class PixelVAE(LatentVariableModel):
    """p(z) p(x | z): z ~ p(z), x from a small PixelCNN conditioned on ``decoder(z)``, a map of
    ``condition_channels`` x H x W (the ``decoder`` network: ``mlp`` or ``conv``). Options as ``pixelcnn``'s,
    with ``layers`` (of the autoregressive decoder) 2 by default: the smaller it is, the more z must carry."""

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        return likelihood_contract({"likelihood": options.get("output", "bernoulli")})

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 16,
        decoder: Any = "mlp",
        levels: int | None = None,
        output: str = "bernoulli",
        output_options: dict | None = None,
        network: str = "gated",
        channels: int = 32,
        layers: int = 2,
        kernel: int = 5,
        condition_channels: int = 4,
        prior: Any = "normal",
    ):
        if condition_channels < 1:
            raise ConfigError(
                f"condition_channels must be at least 1 (z reaches x through them), got {condition_channels}"
            )
        likelihood = AutoregressiveLikelihood(
            x_shape, levels, output, output_options, network, channels, layers, kernel, condition_channels
        )
        super().__init__(x_shape, likelihood, latent_dim, decoder, prior=prior)
        self.contract = self.declare({"output": output})
