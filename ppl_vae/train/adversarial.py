r"""Adversarial training strategies: the adversarial autoencoder and the GAN, each owning a discriminator.

Both are training strategies (``ppl_vae.train.strategy``): the discriminator is an extra network
(``extras``, a registered network with one output, its logit), every phase has its own optimizer
and schedule, and all of it is checkpointed and resumed exactly. Losses are per example,
summed and divided by the global batch, so that gradients add up over processes:

- discriminator: :math:`-\log D(\text{real}) - \log(1 - D(\text{fake}))`;
- generator, non-saturating (Goodfellow et al. 2014): :math:`-\log D(\text{fake})`.

Both keep their last parameters, not those of the best validation epoch, and never stop early:
adversarial training improves no bound monotonically. A phase whose loss is not finite stops
the run, naming the phase, with the last good checkpoint kept (``ppl_vae.train.trainer``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pyro import poutine
from torch import Tensor

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_strategy
from ppl_vae.data.checks import one_hot_labels
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import Pairing
from ppl_vae.networks import build_network
from ppl_vae.train.distributed import SINGLE, World
from ppl_vae.train.strategy import Strategy, refuse_implicit

DEFAULT_DISCRIMINATOR = {"name": "mlp", "hidden": [256, 256], "activation": "relu"}
AAE_DISCRIMINATOR_RATE = 0.2  # the AAE discriminator's default learning rate, as a share of the reconstruction's


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Binary cross-entropy of telling real (label 1) from fake (label 0), summed over examples, nats."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction="sum")
    return real + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="sum")


def generator_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss -log D(fake), summed over examples, nats."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), reduction="sum")


def checked_pairing(pair: Pair) -> Pairing:
    """What the pairing check learned about ``pair`` (its site shapes); refused if it never ran."""
    if pair.pairing is None:
        raise ConfigError("an adversarial strategy needs a checked pair: call pair.check(x) first")
    return pair.pairing


class Adversarial(Strategy):
    """A strategy with a discriminator D (``discriminator``: a network name or table; an MLP by default) on
    inputs of ``in_shape`` and a condition of ``condition_dim``; subclasses add its phase
    (:meth:`add_discriminator_phase`) among theirs."""

    keeps_best = False

    def __init__(
        self,
        pair: Pair,
        config: TrainingConfig,
        world: World,
        discriminator: Any,
        in_shape: tuple[int, ...],
        condition_dim: int = 0,
    ):
        super().__init__(pair, config, world)
        spec = DEFAULT_DISCRIMINATOR if discriminator is None else discriminator
        network = build_network(spec, in_shape, (1,), condition_dim, "training.strategy.discriminator")
        anchor = next(pair.parameters())
        self.extras["discriminator"] = network.to(anchor.device, anchor.dtype)

    def add_discriminator_phase(self, learning_rate: float | None) -> None:
        """Phase ``"discriminator"``, starting at ``learning_rate`` (None: ``training.learning_rate``)."""
        self.add_phase("discriminator", self.extras.parameters(), learning_rate)

    def discriminate(self, inputs: Tensor, condition: Tensor | None = None) -> Tensor:
        """D's logits (N,) for inputs (N, *in_shape)."""
        return self.extras["discriminator"](inputs, condition).squeeze(-1)

    def empty_step(self, x: Tensor) -> float:
        """This process's part of a short last batch is empty: every phase still takes part in the sums."""
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        for phase in self.optimizers:
            self.update(phase, zero)
        return 0.0


@register_strategy("aae")
class AdversarialAutoencoder(Adversarial):
    """The adversarial autoencoder (Makhzani et al. 2016, section 2): three phases per batch.

    1. ``reconstruction``: maximize log p(x | z), z ~ q(z | x), over encoder and decoder (the
       model's observed site replayed on the guide's z: any model with a likelihood, any guide of z);
    2. ``discriminator``: tell draws of the model's own prior at ``z`` (whatever prior it declares,
       given the labels for a label-picked prior; every prior can be sampled, ``ppl_vae.models.priors``)
       from codes z ~ q(z | x);
    3. ``regularization``: move the encoder so that its codes pass for prior draws.

    Rates. Each phase has its own Adam (or other) optimizer, whose steps are about its learning rate whatever the
    size of its gradient: the rates' ratio, not the losses' scales, is the weight of one phase against another.
    The reconstruction keeps moving the encoder after it has converged, and nothing in it cares where the codes
    sit, so its steps make the codes drift; only the regularization pulls them back. By default the
    regularization therefore moves the encoder at the reconstruction's rate (``training.learning_rate``; measured
    on MNIST, a regularization at a fifth of it lets the codes spread to 1.6-3.7 times the prior's standard
    deviation in 6 epochs, 3 to 5.6 in 20), and the discriminator learns at :data:`AAE_DISCRIMINATOR_RATE` times
    that rate (at the full rate the codes match the prior as well, but the reconstruction is worse: -119 against
    -107 nats after 6 epochs on MNIST). A run of only a few hundred steps (the 8x8 digits) needs the
    discriminator at the full rate to keep up. ``discriminator_learning_rate`` and ``regularization_learning_rate``
    set them (a number: that rate).

    ``labels_to_discriminator`` (default: whether the model is conditioned on labels): D also reads one_hot(y), so
    that it tells prior draws from codes class by class, matching q(z | y) to p(z | y) for every class and not
    only their mixture q(z) to p(z). With a prior picked by label it is the paper's figure 4 set-up; with a prior
    that ignores the label it makes the code independent of the class (the style of a conditional AAE): without
    it, a conditional AAE's codes match the prior in aggregate but keep part of the class, and one z decoded for
    every class does not always give that class. ``step`` returns the reconstruction
    term, nats per example. ``training.beta`` and ``training.objective`` are not used; the
    validation figure is still the model's bound (the ELBO for a Gaussian encoder).
    """

    def __init__(
        self,
        pair: Pair,
        config: TrainingConfig,
        world: World = SINGLE,
        discriminator: Any = None,
        discriminator_learning_rate: float | None = None,
        regularization_learning_rate: float | None = None,
        labels_to_discriminator: bool | None = None,
    ):
        refuse_implicit(pair, "aae")
        pairing = checked_pairing(pair)
        self.site = pair.model_contract.code
        if pairing.latent_sites != (self.site,):
            found = ", ".join(map(repr, pairing.latent_sites)) or "none"
            raise ConfigError(
                f"strategy 'aae' regularizes one latent site, the model's code, and has no term for any other, "
                f"but model '{pair.model_name}' with guide '{pair.guide_name}' has latent sites {found}; train it "
                "with training.strategy = 'svi'"
            )
        classes = getattr(pair.model, "num_classes", None)
        by_label = pair.model_contract.conditioning is Conditioning.LABELS and classes is not None
        self.labels = by_label if labels_to_discriminator is None else bool(labels_to_discriminator)
        if self.labels and not by_label:
            raise ConfigError(
                f"labels_to_discriminator needs a label-conditioned model with num_classes; model "
                f"'{pair.model_name}' is not one"
            )
        condition_dim = classes if self.labels else 0
        super().__init__(pair, config, world, discriminator, pairing.site_shapes[self.site], condition_dim)
        self.observed = pair.model_contract.observed
        if discriminator_learning_rate is None:
            discriminator_learning_rate = AAE_DISCRIMINATOR_RATE * config.learning_rate
        self.add_phase("reconstruction", pair.parameters())
        self.add_discriminator_phase(discriminator_learning_rate)
        self.add_phase("regularization", pair.guide.parameters(), regularization_learning_rate)

    def _condition(self, y: Tensor | None, like: Tensor) -> Tensor | None:
        if not self.labels:
            return None
        return one_hot_labels(y, self.pair.model.num_classes, like.shape[0], "labels y", like.dtype)

    def step(self, x: Tensor, y: Tensor | None, beta: float, total: int) -> float:
        if x.shape[0] == 0:
            return self.empty_step(x)
        with self.networks_compiled():
            return self._phases(x, y, total)

    def _phases(self, x: Tensor, y: Tensor | None, total: int) -> float:
        guide, model = self.pair.guide, self.pair.model
        guide_trace = poutine.trace(guide).get_trace(x, y=y)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x, y=y)
        site = model_trace.nodes[self.observed]
        reconstruction = site["fn"].log_prob(site["value"]).sum()
        self.update("reconstruction", -reconstruction / total)

        codes = guide_trace.nodes[self.site]["value"].detach()
        with torch.no_grad():
            drawn = model_trace.nodes[self.site]["fn"].sample()
        condition = self._condition(y, codes)
        fooled = discriminator_loss(self.discriminate(drawn, condition), self.discriminate(codes, condition))
        self.update("discriminator", fooled / total)

        fresh = poutine.trace(guide).get_trace(x, y=y).nodes[self.site]["value"]
        self.update("regularization", generator_loss(self.discriminate(fresh, condition)) / total)
        return reconstruction.item() / total


@register_strategy("gan")
class GenerativeAdversarialNetwork(Adversarial):
    """The GAN (Goodfellow et al. 2014) with the non-saturating loss: an implicit model x = G(z) (such as
    ``gan_generator``, guide ``none``) against a discriminator on x (``conv`` for images: the DCGAN
    discriminator of Radford et al. 2016). Two phases per batch: ``discriminator``, then ``generator``
    on the same generated batch. ``step`` returns the discriminator's log-probability of labelling the
    batch's real and generated examples rightly, nats per example (-2 log 2 = -1.386 at equilibrium).
    """

    def __init__(
        self,
        pair: Pair,
        config: TrainingConfig,
        world: World = SINGLE,
        discriminator: Any = None,
        discriminator_learning_rate: float | None = None,
    ):
        if pair.model_contract.density:
            raise ConfigError(
                f"strategy 'gan' trains an implicit model (such as gan_generator); model '{pair.model_name}' has a "
                "likelihood: train it with training.strategy = 'svi' or 'aae'"
            )
        observed = pair.model_contract.observed
        super().__init__(pair, config, world, discriminator, checked_pairing(pair).site_shapes[observed])
        self.observed = observed
        self.add_discriminator_phase(discriminator_learning_rate)
        self.add_phase("generator", pair.model.parameters())

    def generate(self, n: int) -> Tensor:
        """n draws x = G(z), z ~ p(z), differentiable in the generator's parameters."""
        return poutine.trace(self.pair.model).get_trace(None, num_samples=n).nodes[self.observed]["value"]

    def step(self, x: Tensor, y: Tensor | None, beta: float, total: int) -> float:
        if x.shape[0] == 0:
            return self.empty_step(x)
        with self.networks_compiled():
            return self._phases(x, total)

    def _phases(self, x: Tensor, total: int) -> float:
        fake = self.generate(x.shape[0])
        loss = discriminator_loss(self.discriminate(x), self.discriminate(fake.detach()))
        self.update("discriminator", loss / total)
        self.update("generator", generator_loss(self.discriminate(fake)) / total)
        return -loss.item() / total
