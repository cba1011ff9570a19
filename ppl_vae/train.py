"""Training a model/guide pair by stochastic variational inference.

Each step computes a Pyro objective (``ppl_vae.objectives``) on a minibatch, divides
it by the batch size (nats per example), and takes an Adam step on the parameters of
model and guide. After every epoch the validation bound is measured
(:meth:`Trainer.validation_bound`), the best parameters so far are kept, and, with a
checkpoint path, the full training state is written atomically.

Pyro's argument validation is off inside the training steps only: the data was checked
in full before training (``ppl_vae.data.check_data``), the pairing check ran with
validation on, and a non-finite loss stops the run; re-checking every batch cost about
10% of a step.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyro
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ppl_vae.checkpoint import load_module_state, save_checkpoint
from ppl_vae.config import TrainingConfig
from ppl_vae.data import Dataset, observed_field
from ppl_vae.evaluate import batches, bound_per_example
from ppl_vae.objectives import KLWeight, make_objective


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class EpochRecord:
    """One line of metrics.csv, in nats per example. ``train_objective``: the bound being
    optimized (ELBO, beta-weighted ELBO or IWAE bound), averaged over the epoch's batches.
    ``valid_bound``: the validation bound that early stopping watches (see
    :meth:`Trainer.validation_bound`)."""

    epoch: int
    train_objective: float
    valid_bound: float
    beta: float
    seconds: float


class Trainer:
    """Owns the optimizer and training state of one model/guide pair.

    ``callbacks`` are called as ``callback(trainer, record)`` after every epoch, once
    the epoch's checkpoint is written.
    """

    def __init__(
        self,
        model,
        guide,
        data: Dataset,
        config: TrainingConfig,
        max_plate_nesting: int = 1,
        checkpoint_path: Path | None = None,
        callbacks: Sequence[Callable[[Trainer, EpochRecord], None]] = (),
    ):
        self.model, self.guide, self.data, self.config = model, guide, data, config
        self.max_plate_nesting = max_plate_nesting
        self.checkpoint_path = checkpoint_path
        self.callbacks = list(callbacks)
        self.parameters = [*model.parameters(), *guide.parameters()]
        self.optimizer = torch.optim.Adam(self.parameters, lr=config.learning_rate)
        self.kl_weight = KLWeight(config.beta)
        self.objective = make_objective(config.objective, config.num_particles, max_plate_nesting)
        self.epoch = 0
        self.history: list[EpochRecord] = []
        self.best_valid_bound = -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.finished = False
        self.best_state = self._pair_state()

    def _pair_state(self) -> dict[str, Any]:
        return copy.deepcopy({"model": self.model.state_dict(), "guide": self.guide.state_dict()})

    def beta_at(self, step: int) -> float:
        """Weight of the latent term at optimizer step ``step`` (counted from 1)."""
        steps_per_epoch = math.ceil(len(self.data.train) / self.config.batch_size)
        warmup_steps = self.config.warmup_epochs * steps_per_epoch
        return self.config.beta * (min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._pair_state(),
            "optimizer": self.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "history": [asdict(r) for r in self.history],
            "best_valid_bound": self.best_valid_bound,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "finished": self.finished,
            "best": self.best_state,
            "max_plate_nesting": self.max_plate_nesting,
            "data_info": {
                "x_dim": self.data.x_dim,
                "num_classes": self.data.num_classes,
                "y_dim": self.data.y_dim,
                "image_shape": list(self.data.image_shape),
            },
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        """Restore a :meth:`state_dict`; a mismatch raises ``CheckpointError`` naming ``path``."""
        load_module_state(self.model, state["model"], "model", path)
        load_module_state(self.guide, state["guide"], "guide", path)
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        self.epoch = state["epoch"]
        self.history = [EpochRecord(**r) for r in state["history"]]
        self.best_valid_bound = state["best_valid_bound"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.finished = state["finished"]
        self.best_state = state["best"]

    def _train_epoch(self, progress: tqdm) -> float:
        train = self.data.train
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.config.seed + self.epoch))
        x_all, y_all = train.x[order], None if train.y is None else train.y[order]
        binarizer = torch.Generator().manual_seed(self.config.seed + self.epoch)
        steps_done = (self.epoch - 1) * math.ceil(len(train) / self.config.batch_size)
        model, guide = self.kl_weight(self.model), self.kl_weight(self.guide)
        with pyro.validation_enabled(False):
            return self._run_batches(model, guide, x_all, y_all, binarizer, steps_done, progress)

    def _batch(self, x_all: Tensor, y_all: Tensor | None, s: slice, binarizer: torch.Generator):
        """(x, y) of one step; the observed field is drawn as Bernoulli(p) under dynamic binarization."""
        batch = {"x": x_all[s], "y": None if y_all is None else y_all[s]}
        if self.data.dynamic_binarization:
            field = observed_field(self.model)
            batch[field] = torch.bernoulli(batch[field], generator=binarizer)
        return batch["x"], batch["y"]

    def _run_batches(self, model, guide, x_all, y_all, binarizer, steps_done: int, progress: tqdm) -> float:
        total, count = 0.0, 0
        for i, s in enumerate(batches(x_all.shape[0], self.config.batch_size)):
            x, y = self._batch(x_all, y_all, s, binarizer)
            self.kl_weight.beta = self.beta_at(steps_done + i + 1)
            loss = self.objective.differentiable_loss(model, guide, x, y=y) / x.shape[0]
            if not torch.isfinite(loss):
                kept = f"; the last good checkpoint ({self.checkpoint_path}) is kept" if self.checkpoint_path else ""
                raise TrainingDiverged(
                    f"the loss became {loss.item()} at epoch {self.epoch}, step {i + 1}{kept}; "
                    "try a smaller training.learning_rate"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total -= loss.item() * x.shape[0]
            count += x.shape[0]
            progress.update(1)
            progress.set_postfix(
                epoch=self.epoch, train=f"{total / count:.2f}", valid=f"{self.best_valid_bound:.2f}", refresh=False
            )
        return total / count

    def validation_bound(self) -> float:
        """Mean validation bound, nats per example (fixed seed, beta = 1).

        The bound the objective optimizes: the ELBO (K = 1) for ``trace_elbo`` and
        ``analytic_kl``, the IW-K bound with K = ``num_particles`` for ``iwae``, whose
        ELBO may get worse as its IW bound improves.
        """
        valid = self.data.valid
        k = self.config.num_particles if self.config.objective == "iwae" else 1
        bounds = bound_per_example(
            self.model,
            self.guide,
            valid.x,
            valid.y,
            k,
            batch_size=max(1, 20000 // k),
            seed=self.config.seed,
            max_plate_nesting=self.max_plate_nesting,
        )
        return bounds.mean().item()

    def fit(self) -> list[EpochRecord]:
        """Train until ``config.epochs`` or early stopping; leave the best parameters loaded."""
        steps_per_epoch = math.ceil(len(self.data.train) / self.config.batch_size)
        with tqdm(
            total=steps_per_epoch * self.config.epochs,
            initial=steps_per_epoch * self.epoch,
            desc="training",
            unit="step",
            disable=None,
        ) as progress:
            while not self.finished and self.epoch < self.config.epochs:
                self.epoch += 1
                start = time.perf_counter()
                train_objective = self._train_epoch(progress)
                valid = self.validation_bound()
                record = EpochRecord(
                    self.epoch, train_objective, valid, self.kl_weight.beta, time.perf_counter() - start
                )
                self.history.append(record)
                if valid > self.best_valid_bound:
                    self.best_valid_bound, self.best_epoch, self.bad_epochs = valid, self.epoch, 0
                    self.best_state = self._pair_state()
                else:
                    self.bad_epochs += 1
                patience = self.config.patience
                self.finished = self.epoch >= self.config.epochs or (patience > 0 and self.bad_epochs >= patience)
                if self.checkpoint_path is not None:
                    save_checkpoint(self.checkpoint_path, self.state_dict())
                for callback in self.callbacks:
                    callback(self, record)
        self.optimizer.zero_grad(set_to_none=True)
        self.model.load_state_dict(self.best_state["model"])
        self.guide.load_state_dict(self.best_state["guide"])
        return self.history
