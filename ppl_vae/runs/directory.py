"""Run directories: what a run directory holds, making one, and reading back what a run recorded.

A run directory holds:

- ``experiment.toml``: the resolved experiment (``ppl-vae train RUN/experiment.toml`` repeats the run);
- ``run.json``: which data the run saw (fingerprint of every split, pinned options), the
  shapes the pair was built with, device and dtype;
- ``metrics.csv``: one row per epoch (:class:`ppl_vae.train.trainer.EpochRecord`);
- ``checkpoint.pt``: the training state after the last finished epoch, written atomically;
- ``summary.json``: final figures (keys in :data:`ppl_vae.report.summary.SUMMARY_KEYS`), and the files
  of the report hooks that apply (``ppl_vae.report.hooks``).

Every command that writes into a run directory holds its lock (``ppl_vae.runs.lock``) meanwhile.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ppl_vae.core.config import Experiment, load_experiment
from ppl_vae.core.errors import CheckpointError, RunError
from ppl_vae.train.checkpoint import load_checkpoint

CHECKPOINT = "checkpoint.pt"
EXPERIMENT = "experiment.toml"
RUN_INFO = "run.json"
SUMMARY = "summary.json"


def make_run_dir(path: Path, exist_ok: bool) -> None:
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            raise
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir") from None
    except OSError as error:
        raise RunError(f"cannot create the run directory {path}: {error.strerror or error}") from None
    if not path.is_dir():
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir")


def finished_epochs(path: Path) -> int | None:
    """Epochs the run in ``path`` finished, from its checkpoint (0: it failed before its first epoch ended);
    None when there is no checkpoint. An unreadable checkpoint raises ``CheckpointError``."""
    if not (path / CHECKPOINT).is_file():
        return None
    return int(load_checkpoint(path / CHECKPOINT).get("epoch", 0))


def holds_run(path: Path) -> bool:
    """True when ``path`` holds trained work that a new run would destroy: a finished epoch in its checkpoint,
    a summary, or a checkpoint that cannot be read (kept, rather than replaced, in doubt). A directory whose run
    failed before its first epoch ended holds nothing trained: it can be trained into again."""
    if (path / SUMMARY).exists():
        return True
    try:
        return bool(finished_epochs(path))
    except CheckpointError:
        return True


def check_new_run_dir(path: Path) -> None:
    """Refuse, before any work, a ``--run-dir`` that is a file, cannot be a folder or already holds a run."""
    try:
        is_file = path.exists() and not path.is_dir()
    except OSError as error:
        raise RunError(f"cannot create the run directory {path}: {error.strerror or error}") from None
    if is_file:
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir")
    if holds_run(path):
        raise RunError(f"{path} already holds a run; resume it with --resume {path} or choose another --run-dir")


def new_default_run_dir(experiment: Experiment) -> Path:
    """Create ``runs/NAME-TIMESTAMP`` (``-2``, ``-3``... when taken); the creation itself claims the name,
    so two processes never share one."""
    base = Path("runs") / f"{experiment.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    candidate, suffix = base, 1
    while True:
        try:
            make_run_dir(candidate, exist_ok=False)
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = base.with_name(f"{base.name}-{suffix}")


def read_run_experiment(run_dir: Path) -> Experiment:
    path = Path(run_dir) / EXPERIMENT
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory: it has no {EXPERIMENT}")
    return load_experiment(str(path))


def read_run_info(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_INFO
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        raise RunError(
            f"{run_dir} has no readable {RUN_INFO}: it was made by an older ppl_vae; train it again"
        ) from None
    if info.get("format") != "ppl_vae.run/1":
        raise RunError(f"{path} is not a ppl_vae run record (expected format ppl_vae.run/1)")
    return info
