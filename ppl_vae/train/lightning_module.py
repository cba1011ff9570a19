"""A pair and its objective as a Lightning ``LightningModule``: training with ``lightning.Trainer``.

The route of Pyro's ``examples/svi_lightning.py``: the objective applied to model and guide is the loss of
``training_step``, a torch optimizer steps it, and Lightning runs the loop (devices, precision, DDP,
checkpoints, its loggers and callbacks). :class:`PairModule` takes its loss, optimizer, learning-rate schedule
and KL warm-up from the engine's SVI strategy (:class:`~ppl_vae.train.svi.SVIStrategy`), so one step is
the step ``ppl_vae.train.trainer.Trainer`` takes on the same batch (the direct ELBO, ``training.compile``
included). Lightning owns what its ``Trainer`` is given: epochs, devices, early stopping, and
(``training.clip_norm`` aside) gradient clipping. Needs ``pip install 'ppl_vae[lightning]'``.

Logged per epoch, nats per example, under the names of ``metrics.csv``: ``train_objective``, ``valid_bound``
(the same validation bound as the engine's trainer: :meth:`~ppl_vae.train.trainer.Trainer.validation_bound`),
``beta``. The trained ``module.pair`` is an ordinary pair: every function of ``ppl_vae.evaluation`` takes it.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.errors import ConfigError
from ppl_vae.data.containers import Split
from ppl_vae.infer.bounds import bound_per_example
from ppl_vae.infer.objectives import validation_particles
from ppl_vae.infer.pair import Pair
from ppl_vae.train.schedules import kl_beta
from ppl_vae.train.svi import SVIStrategy


def loader(split: Split, batch_size: int, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` over a split's examples (and labels), batches of ``(x,)`` or ``(x, y)``; shuffled by
    a generator seeded with ``seed`` when ``shuffle``."""
    tensors = (split.x,) if split.y is None else (split.x, split.y)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=generator)


class PairModule(pl.LightningModule):
    """``pair`` (checked: :meth:`~ppl_vae.infer.pair.Pair.check`) trained by SVI on ``config``'s objective,
    optimizer, schedule (stepped once per epoch), KL weight and warm-up, and clipping. Batches are ``(x,)`` or
    ``(x, y)``, x of shape (N, *x_shape) (:func:`loader`). Refuses (``ConfigError``) a strategy other than
    ``svi``: the adversarial strategies take several optimizer steps per batch."""

    def __init__(self, pair: Pair, config: TrainingConfig | None = None):
        super().__init__()
        config = TrainingConfig() if config is None else config
        if config.strategy != "svi":
            raise ConfigError(
                f"the Lightning route trains by SVI; training.strategy '{config.strategy}' takes several optimizer "
                "steps per batch: train it with ppl-vae train"
            )
        self.pair, self.config = pair, config
        self.strategy = SVIStrategy(pair, config)  # the loss, optimizer and schedule; not a submodule

    @staticmethod
    def unpack(batch: Any) -> tuple[Tensor, Tensor | None]:
        """(x, y or None) of a batch ``(x,)``, ``(x, y)`` or a bare x."""
        if isinstance(batch, Tensor):
            return batch, None
        return batch[0], batch[1] if len(batch) > 1 else None

    def on_fit_start(self) -> None:
        self.pair.train()  # a pair is in training mode while a trainer takes steps, in evaluation mode otherwise

    def on_fit_end(self) -> None:
        self.pair.eval()

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """The loss of one step, nats per example: the engine's SVI loss on the batch at this step's beta."""
        x, y = self.unpack(batch)
        beta = kl_beta(self.config, self.global_step + 1, self.trainer.num_training_batches)
        loss = self.strategy.batch_loss(x, y, beta, x.shape[0])
        self.log("train_objective", -loss.detach(), on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        self.log("beta", beta, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The validation bound of the batch's examples, averaged over the epoch (nats per example)."""
        x, y = self.unpack(batch)
        k = validation_particles(self.config.objective, self.config.num_particles)
        beta = None if self.pair.guide_contract.density else self.config.beta
        bounds = bound_per_example(self.pair, x, y, k, None, self.config.seed, beta)
        self.log("valid_bound", bounds.mean(), on_epoch=True, prog_bar=True, batch_size=len(x))

    def configure_optimizers(self) -> dict[str, Any]:
        return {
            "optimizer": self.strategy.optimizers["svi"],
            "lr_scheduler": {"scheduler": self.strategy.schedulers["svi"], "interval": "epoch"},
        }

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """``training.clip_norm`` when set (the largest gradient norm), else what the Lightning Trainer was given."""
        if self.config.clip_norm > 0:
            gradient_clip_val, gradient_clip_algorithm = self.config.clip_norm, "norm"
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
