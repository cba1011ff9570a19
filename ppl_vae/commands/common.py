"""What the commands share: checking counts, naming their outputs, and choosing examples of a split."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from ppl_vae.core.contract import UNLABELLED, Conditioning
from ppl_vae.core.errors import ConfigError, RunError
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import random_subset
from ppl_vae.runs.trained import TrainedRun, load_trained


def require_positive(value: int | None, name: str) -> None:
    """A ConfigError unless the count ``name`` is unset (None) or a whole number of at least 1."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")


def trained(run: TrainedRun | str | Path, device: str | None = None) -> TrainedRun:
    """``run`` itself, or the run loaded from the directory ``run`` onto ``device``."""
    return run if isinstance(run, TrainedRun) else load_trained(Path(run), device)


def output_stem(kind: str, split: str, limit: int | None, seed: int, **params: float) -> str:
    """The name of a command's output that says what it is: ``evaluation-test-K5000``,
    ``classification-valid-random50-seed0-K100``, ``gaps-test-K1000-steps3000-lr0.01``. The files written at the
    end of training (``summary.json``, ``classification.json``, ``ppc.*``) are never replaced by these."""
    parts = [kind, split]
    if limit is not None:
        parts.append(f"random{limit}")
    if limit is not None or seed:
        parts.append(f"seed{seed}")
    parts += [f"{key}{value}" for key, value in params.items()]
    return "-".join(parts)


def split_of(run: TrainedRun, split: str, limit: int | None, seed: int) -> tuple[Dataset, Tensor, Tensor | None, str]:
    """(the run's dataset, x, y, phrase) of ``split``: all of it, or ``limit`` examples drawn at random with
    ``seed`` (the phrase says which). y is None where some of the chosen labels are hidden (a run trained with
    ``data.labels``): the model then reads x alone."""
    require_positive(limit, "limit")
    data = run.data()
    chosen, which = random_subset(data.split(split), limit, seed)
    if chosen.y is not None and data.labelled is not None and bool((chosen.y == UNLABELLED).any()):
        return data, chosen.x, None, f"{which} {split} examples (their labels hidden by data.labels)"
    return data, chosen.x, chosen.y, f"{which} {split} examples"


def writable_output(path: Path) -> Path:
    """``path`` if its folder exists and it is not a folder itself; else one sentence."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"the output {path} is a folder; give a file name such as {path / 'samples.png'}")
    if not path.parent.is_dir():
        raise ConfigError(f"the output {path}: the folder {path.parent} does not exist")
    return path


LONG_REQUEST_SECONDS = 300  # longer requests need confirming (yes=True, --yes)
LONG_CHECK_SECONDS = 3600  # longer checks of inference (sbc, gaps) need confirming


def refuse_long(seconds: float, doing: str, confirmed: bool, fewer: str, limit: float = LONG_REQUEST_SECONDS) -> None:
    """A RunError when ``doing`` (a phrase: "drawing 100 samples from RUN") would take about ``seconds``, more
    than ``limit``, and the user has not confirmed; ``fewer`` says how to ask for less."""
    if seconds > limit and not confirmed:
        raise RunError(
            f"{doing} would take about {seconds / 60:.1f} minutes (more than {limit / 60:.0f}); add --yes "
            f"(yes=True) to go on anyway, or {fewer}"
        )


def require_inference(run, command: str) -> None:
    """Refuse, in one sentence, a run whose guide ``command`` cannot check: a model without latents or without a
    density (PixelCNN, a GAN's generator), a guide that is not a density (an autoencoder), outputs y of inputs."""
    contract, guide = run.pair.model_contract, run.pair.guide_contract
    if not contract.latent:
        raise RunError(f"{run.directory} has no latent variables: {command} checks a guide q(z | x), and it has none")
    if not contract.density:
        raise RunError(
            f"{run.directory} holds an implicit model (a generator without a likelihood): {command} needs p(x | z) "
            "and a guide q(z | x), and it has neither"
        )
    if not guide.density:
        raise RunError(
            f"the guide '{run.pair.guide_name}' of {run.directory} is a deterministic encoder, not a density: "
            f"{command} checks a distribution q(z | x), and a point has no spread to check"
        )
    if contract.conditioning is Conditioning.INPUT:
        raise RunError(f"{run.directory} predicts outputs y from inputs x: {command} checks codes of whole data points")


def require_codes(run, command: str) -> None:
    """Refuse, in one sentence, a run whose codes q(z | x) ``command`` cannot read."""
    contract = run.pair.model_contract
    if not contract.latent:
        raise RunError(f"{run.directory} has no latent variables: {command} reads codes")
    if contract.conditioning is Conditioning.INPUT:
        raise RunError(f"{run.directory} predicts outputs y from inputs x: {command} reads codes of whole data points")
    if contract.conditioning is Conditioning.LABELS and not contract.label_latent:
        raise RunError(
            f"{run.directory} is label-conditioned: its codes q(z | x, y) need the label, {command} has none"
        )
