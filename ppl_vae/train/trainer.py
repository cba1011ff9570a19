"""Training a pair: the epoch loop, validation, early stopping, checkpoints.

Each epoch visits the training split in a fresh seeded order, in batches sliced from the
in-memory tensors (moved to the pair's device per batch when the data stays on the CPU),
and hands each batch to the training strategy (``ppl_vae.train.strategy``; the SVI step by
default). After every epoch the validation bound is measured (:meth:`Trainer.validation_bound`),
the best parameters so far are kept, and, with a checkpoint path, the full training state
(pair, strategy, random streams of the CPU and the accelerator, history) is written atomically.
In a distributed run (``ppl_vae.train.distributed``) each process takes its share of every global batch
and of the validation split; rank 0 writes the checkpoints.

Pyro's argument validation is off inside the training steps only: the trainer checks the data in
full against the model's contract when it is built (``ppl_vae.data.checks.check_fit``, the check the
command line makes), the pairing check ran with validation on, and a non-finite loss stops the run.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyro
import torch
from torch import Tensor

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.contract import ModelContract
from ppl_vae.core.devices import rng_state, set_rng_state
from ppl_vae.core.errors import CheckpointError, ConfigError, TrainingDiverged
from ppl_vae.core.progress import Progress
from ppl_vae.core.registry import OBJECTIVES
from ppl_vae.data.checks import check_fields, check_fit
from ppl_vae.data.containers import Dataset
from ppl_vae.infer.bounds import bound_per_example
from ppl_vae.infer.objectives import validation_particles
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import batches
from ppl_vae.train.checkpoint import load_state, save_checkpoint
from ppl_vae.train.distributed import RANK_SEED_STRIDE, SINGLE, World, check_batch
from ppl_vae.train.schedules import kl_beta
from ppl_vae.train.strategy import NonFiniteLoss, Strategy, make_strategy


@dataclass(frozen=True)
class EpochRecord:
    """One line of metrics.csv, in nats per example. ``train_objective``: the bound being
    optimized (ELBO, beta-weighted ELBO or IWAE bound), averaged over the epoch's batches.
    ``valid_bound``: the validation bound that early stopping watches (see
    :meth:`Trainer.validation_bound`). ``learning_rate``: during the epoch. ``seconds``: wall time of the
    epoch, validation included. ``gradient_norm``: the mean over the epoch's steps of the L2 norm of the
    gradient of the loss per example (the first phase's, before clipping; see
    :meth:`~ppl_vae.train.strategy.Strategy.epoch_gradient_norm`); NaN in checkpoints that predate it."""

    epoch: int
    train_objective: float
    valid_bound: float
    beta: float
    learning_rate: float
    seconds: float
    gradient_norm: float = math.nan


def check_partial_labels(data: Dataset, config: TrainingConfig, contract: ModelContract) -> None:
    """A ConfigError when ``data`` hides some training labels (``data.labels``) and the objective cannot score
    batches that mix given and hidden labels (only those registered with ``partial_labels=True`` split them), or
    when such an objective is asked to train a model whose label is not a latent site."""
    splits = OBJECTIVES.metadata(config.objective).get("partial_labels", False)
    if data.labelled is not None and not splits:
        raise ConfigError(
            f"the training split of {data.name} mixes given and hidden labels, which objective "
            f"'{config.objective}' cannot score in one batch; use training.objective = 'semi_supervised'"
        )
    if splits and not contract.label_latent:
        raise ConfigError(
            f"objective '{config.objective}' trains a model whose label is a latent site (such as "
            "semi_supervised_vae); this model has none"
        )


class Trainer:
    """Owns the training state of one pair: its strategy, epoch, history and best parameters.

    ``callbacks`` are called as ``callback(trainer, record)`` after every epoch, once the
    epoch's checkpoint is written. ``strategy``: built from ``config`` when not given
    (:func:`~ppl_vae.train.strategy.make_strategy`). ``verbose``: show progress (a bar on a terminal, else a line
    per epoch; on rank 0 only). ``world``: the processes of a distributed run (see
    ``ppl_vae.train.distributed``); the default is one process.
    """

    def __init__(
        self,
        pair: Pair,
        data: Dataset,
        config: TrainingConfig,
        checkpoint_path: Path | None = None,
        callbacks: Sequence[Callable[[Trainer, EpochRecord], None]] = (),
        verbose: bool = True,
        world: World = SINGLE,
        strategy: Strategy | None = None,
    ):
        check_batch(world, config.batch_size)
        check_fields(data, "the dataset given to the trainer")
        check_fit(data, pair.model_contract)
        check_partial_labels(data, config, pair.model_contract)
        self.pair, self.data, self.config, self.world = pair, data, config, world
        self.verbose = verbose and world.main
        self.device = pair.device
        self.checkpoint_path = checkpoint_path if world.main else None
        self.callbacks = list(callbacks)
        self.strategy: Strategy = make_strategy(pair, config, world) if strategy is None else strategy
        world.broadcast_parameters(pair)
        world.broadcast_parameters(self.strategy.extras)
        self.steps_per_epoch = math.ceil(len(data.train) / config.batch_size)
        self.epoch = 0
        self.history: list[EpochRecord] = []
        self.best_valid_bound = -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.finished = False
        self.best_state = self._pair_state()

    def _pair_state(self) -> dict[str, Tensor]:
        return copy.deepcopy(self.pair.state_dict())

    def beta_at(self, step: int) -> float:
        """Weight of the latent term at optimizer step ``step`` (counted from 1); see ``schedules.kl_beta``."""
        return kl_beta(self.config, step, self.steps_per_epoch)

    def state_dict(self) -> dict[str, Any]:
        return {
            "pair": self._pair_state(),
            "strategy": self.strategy.state_dict(),
            "rng": self.world.gather(rng_state(self.device)),
            "epoch": self.epoch,
            "history": [asdict(r) for r in self.history],
            "best_valid_bound": self.best_valid_bound,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "finished": self.finished,
            "best": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        """Restore a :meth:`state_dict` (tensors on any device); a mismatch raises ``CheckpointError``."""
        load_state(self.pair, state["pair"], "model and guide", path)
        if len(state["rng"]) != self.world.size:
            raise CheckpointError(
                f"checkpoint {path} was written by {len(state['rng'])} process(es); resume it with as many, "
                f"not {self.world.size}"
            )
        load_state(self.strategy, state["strategy"], f"training strategy '{self.config.strategy}'", path)
        set_rng_state(state["rng"][self.world.rank], self.device)
        self.epoch = state["epoch"]
        self.history = [EpochRecord(**r) for r in state["history"]]
        self.best_valid_bound = state["best_valid_bound"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.finished = state["finished"]
        self.best_state = {k: v.to(self.device) for k, v in state["best"].items()}

    def _batches(self) -> Iterator[tuple[Tensor, Tensor | None, int]]:
        """The epoch's batches (x, y, examples in the global batch) on the pair's device, in a seeded order
        shared by all processes, each taking its share of every batch; the observed field is drawn as
        Bernoulli(p) under dynamic binarization, from a generator on the device."""
        train = self.data.train
        seed = self.config.seed + self.epoch
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
        binarizer = torch.Generator(device=self.device).manual_seed(seed + RANK_SEED_STRIDE * self.world.rank)
        field = self.pair.model_contract.observed
        for s in batches(len(train), self.config.batch_size):
            index = self.world.shard(order[s]).to(train.x.device)
            batch = {"x": train.x[index].to(self.device, non_blocking=True), "y": None}
            if train.y is not None:
                batch["y"] = train.y[index].to(self.device, non_blocking=True)
            if self.data.dynamic_binarization:
                batch[field] = torch.bernoulli(batch[field], generator=binarizer)
            yield batch["x"], batch["y"], s.stop - s.start

    def _train_epoch(self, progress: Progress) -> float:
        steps_done = (self.epoch - 1) * self.steps_per_epoch
        total, count = 0.0, 0
        with pyro.validation_enabled(False):
            for i, (x, y, batch_total) in enumerate(self._batches()):
                beta = self.beta_at(steps_done + i + 1)
                try:
                    objective = self.strategy.step(x, y, beta, batch_total)
                except NonFiniteLoss as error:
                    raise self._diverged(error, i + 1) from None
                total += objective * batch_total
                count += batch_total
                progress.step(train=total / count, valid=self.best_valid_bound)
        return self.world.all_sum(total) / count

    def _diverged(self, error: NonFiniteLoss, step: int) -> TrainingDiverged:
        """The sentence for a loss that became NaN or infinite: where, what the checkpoint keeps, and a remedy
        that works (the same settings would diverge again from the same state)."""
        where, finished = f"{error} at epoch {self.epoch}, step {step}", self.epoch - 1
        remedy = "a smaller training.learning_rate or a training.clip_norm"
        if self.checkpoint_path is None:
            return TrainingDiverged(f"{where}; try {remedy}")
        run_dir = self.checkpoint_path.parent
        if finished == 0:
            return TrainingDiverged(
                f"{where}, before any epoch finished; train into {run_dir} again with {remedy} (a run directory "
                "without a finished epoch is reused)"
            )
        return TrainingDiverged(
            f"{where}; {self.checkpoint_path} keeps epoch {finished}, the last that finished: resume from it, or "
            f"train a new run with {remedy}"
        )

    def validation_bound(self) -> float:
        """Mean validation bound, nats per example (fixed seed).

        The bound the objective optimizes: the ELBO (K = 1) for ``trace_elbo`` and
        ``analytic_kl``, the IW-K bound with K = ``num_particles`` for an importance-weighted objective
        (``iwae``: registered with ``importance_weighted=True``), whose
        ELBO may get worse as its IW bound improves; with beta = 1, the true bound whatever
        beta training used. A deterministic encoder has no bound: its validation figure is the
        training objective itself, log p(x | z) + beta log p(z) at z = f(x). An implicit model
        (a GAN's generator) has none at all: NaN.
        """
        if not self.pair.model_contract.density:
            return math.nan
        valid = self.data.valid
        x, y = self.world.shard(valid.x), None if valid.y is None else self.world.shard(valid.y)
        k = validation_particles(self.config.objective, self.config.num_particles)
        beta = None if self.pair.guide_contract.density else self.config.beta
        total = 0.0
        if len(x):
            bounds = bound_per_example(self.pair, x, y, k, None, self.config.seed, beta)
            total = bounds.sum().item()
        return self.world.all_sum(total) / len(valid)

    def _warming_up(self) -> bool:
        return self.epoch <= math.ceil(self.config.warmup_epochs)

    def fit(self) -> list[EpochRecord]:
        """Train until ``config.epochs`` or early stopping; leave the best parameters loaded.

        The pair is in training mode (``nn.Module.train``) during the steps only: a denoising
        encoder corrupts its input then, never when evaluated.

        Early stopping counts epochs without improvement only after the KL warm-up. A strategy that
        does not keep the best epoch (``Strategy.keeps_best``, adversarial ones) keeps the last.
        """
        config = self.config
        if self.epoch == 0:  # the initial state: a run that fails before its first epoch ends can be resumed
            state = self.state_dict() if self.world.active or self.checkpoint_path else None
            if self.checkpoint_path is not None:
                save_checkpoint(self.checkpoint_path, state)
        self.pair.train()
        with Progress("training", self.steps_per_epoch, config.epochs, self.epoch, enabled=self.verbose) as progress:
            while not self.finished and self.epoch < config.epochs:
                self.epoch += 1
                start = time.perf_counter()
                learning_rate = self.strategy.learning_rate()
                train_objective = self._train_epoch(progress)
                gradient_norm = self.strategy.epoch_gradient_norm()
                self.strategy.end_epoch()
                self.pair.eval()
                valid = self.validation_bound()
                self.pair.train()
                beta = self.beta_at(self.epoch * self.steps_per_epoch)
                seconds = time.perf_counter() - start
                record = EpochRecord(self.epoch, train_objective, valid, beta, learning_rate, seconds, gradient_norm)
                self.history.append(record)
                if valid > self.best_valid_bound or not self.strategy.keeps_best:
                    self.best_valid_bound, self.best_epoch, self.bad_epochs = valid, self.epoch, 0
                    self.best_state = self._pair_state()
                elif not self._warming_up():
                    self.bad_epochs += 1
                self.finished = self.stopped_by() is not None
                self.finished = self.world.broadcast(self.finished)  # decided once, by rank 0
                state = self.state_dict() if self.world.active or self.checkpoint_path else None
                if self.checkpoint_path is not None:
                    save_checkpoint(self.checkpoint_path, state)
                progress.epoch_done(record, self.best_valid_bound)
                for callback in self.callbacks:
                    callback(self, record)
        self.strategy.zero_grad()
        self.pair.eval()
        self.pair.load_state_dict(self.best_state)
        return self.history

    def train_seconds(self) -> float:
        """Wall time of the epochs trained so far, seconds (every session of the run)."""
        return sum(record.seconds for record in self.history)

    def stopped_by(self) -> str | None:
        """What ends training after the current epoch: ``"epochs"`` (``config.epochs`` reached),
        ``"patience"`` (no validation improvement), ``"time budget"`` (``config.max_minutes`` spent), or None."""
        config = self.config
        if self.epoch >= config.epochs:
            return "epochs"
        if config.patience > 0 and self.bad_epochs >= config.patience:
            return "patience"
        if config.max_minutes > 0 and self.train_seconds() >= 60 * config.max_minutes:
            return "time budget"
        return None
