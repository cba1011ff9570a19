"""``ppl-vae train``: train an experiment into a new run directory, or resume an interrupted run."""

from __future__ import annotations

from pathlib import Path

from ppl_vae.core.config import Experiment, load_experiment
from ppl_vae.core.errors import ConfigError
from ppl_vae.runs.training import resume as resume_run
from ppl_vae.runs.training import train_experiment
from ppl_vae.train.distributed import World, leave, world_from_environment


def train(
    experiment: Experiment | str | None = None,
    overrides: list[str] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    device: str | None = None,
    world: World | None = None,
) -> Path:
    """Train ``experiment`` (loaded, a file, a shipped name, or None for the default) with ``overrides``
    (``section.key=value``) into ``run_dir`` (default ``runs/NAME-TIMESTAMP``), or continue the run in
    ``resume``; returns the run directory. ``world``: the processes of a ``torchrun`` job (default: read from
    the environment); every rank leaves its process group when done."""
    world = world_from_environment() if world is None else world
    try:
        if resume is not None:
            if experiment or overrides or run_dir:
                raise ConfigError(
                    "--resume continues a run as it was configured; it takes no experiment, --set or --run-dir"
                )
            return resume_run(Path(resume), device=device, world=world)
        loaded = experiment if isinstance(experiment, Experiment) else load_experiment(experiment, list(overrides))
        if isinstance(experiment, Experiment) and overrides:
            raise ConfigError("give the overrides to load_experiment with the experiment, not to train")
        return train_experiment(loaded, None if run_dir is None else Path(run_dir), device=device, world=world)
    finally:
        leave(world)
