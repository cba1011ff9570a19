"""The codes of a trained run as a dataset: the features of M1+M2 (Kingma, Rezende, Mohamed & Welling 2014).

``[data] name = "codes"`` with ``of = "RUN_DIR"`` replaces every example of the run's data by its code, the
mean of q(z | x) at the model's code site (``ppl_vae.evaluation.latents.codes``), and keeps the class labels
of the run's data, splits as the run had them. M1 is a VAE trained without labels; M2 (``semi_supervised_vae``
with a Gaussian likelihood, ``data.labels = 100``) trained on its codes is M1+M2.

The codes are computed once, on the CPU, and kept in the run's directory (:data:`CODES_FILE`, written under its
lock) with the provenance they came from: the run, its experiment, model, guide and code site, a digest of its
kept parameters and the fingerprint of its data. The provenance is pinned in the experiment that reads them
(``data.provenance``): a later command that finds the run changed (resumed, retrained, its data changed) is
refused in one sentence instead of scoring on other features. Reading the kept codes, rather than computing
them again, keeps them identical whatever the number of threads (floating-point sums depend on it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import DataError, RunError
from ppl_vae.core.files import atomic_write_bytes
from ppl_vae.core.registry import register_dataset
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.data.provenance import digest
from ppl_vae.evaluation.latents import codes
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun, load_trained

CODES_FILE = "codes.pt"


def refuse_without_codes(run: TrainedRun) -> None:
    """A DataError, in one sentence, for a run whose q(z | x) is not a density or that has no codes of x alone."""
    contract, where = run.pair.model_contract, f"data.of = {str(run.directory)!r}"
    reason = None
    if not contract.latent or not contract.density:
        reason = f"its model '{run.pair.model_name}' has no latent variables that a guide infers"
    elif contract.conditioning is Conditioning.INPUT:
        reason = "its model predicts outputs y from inputs x, not whole data points"
    elif contract.conditioning is Conditioning.LABELS and not contract.label_latent:
        reason = "its codes q(z | x, y) need the label of every example"
    elif not run.pair.guide_contract.density:
        reason = f"its guide '{run.pair.guide_name}' is a deterministic encoder, not a density q(z | x)"
    if reason:
        raise DataError(
            f"{where} has no codes to train on: {reason}; name a run of a VAE trained on x alone (M1, such as "
            "experiment m1_mnist)"
        )


def provenance_of(run: TrainedRun) -> dict[str, Any]:
    """Where a run's codes come from: the run, its experiment, model, guide, code site, a digest of its kept
    parameters and its data's fingerprint (strings, as TOML keeps them)."""
    state = run.pair.state_dict()
    return {
        "run": str(run.directory),
        "experiment": run.experiment.name,
        "model": run.pair.model_name,
        "guide": run.pair.guide_name,
        "code_site": run.pair.model_contract.code,
        "parameters": digest([state[key] for key in sorted(state)]),
        "data": dict(run.info["data"]["fingerprint"]),
    }


def kept_codes(run: TrainedRun, provenance: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Per split, the codes (N, code size) kept in the run's directory for this provenance; computed and kept
    (atomically, under the run's lock) when absent or made from another state of the run."""
    path = run.directory / CODES_FILE
    if path.is_file():
        kept = torch.load(path, map_location="cpu", weights_only=True)
        if kept.get("provenance") == provenance:
            return kept["codes"]
    data = run.data()
    computed = {name: codes(run.pair, split.x) for name, split in data.splits().items()}
    with RunLock(run.directory, "codes"):
        atomic_write_bytes(path, lambda f: torch.save({"provenance": provenance, "codes": computed}, f))
    return computed


@register_dataset("codes")
def load_codes(of: str, provenance: dict | None = None) -> Dataset:
    """The codes of the run in directory ``of`` (see the module text): x (N, code size) floats, the run's labels
    y, its splits. ``provenance``: what a run trained on these codes recorded (pinned in its experiment); a run
    that no longer matches it is refused. Refused too: a run without codes or with a deterministic encoder."""
    try:
        run = load_trained(Path(of).expanduser().resolve(), device="cpu")
    except RunError as error:
        raise DataError(f"data.of = {of!r} names no trained run: {error}") from None
    refuse_without_codes(run)
    now = provenance_of(run)
    if provenance is not None and provenance != now:
        changed = ", ".join(key for key in now if provenance.get(key) != now[key])
        raise DataError(
            f"the run {run.directory} whose codes this run was trained on has changed since ({changed}); "
            "train a new run on its codes"
        )
    features = kept_codes(run, now)
    labels = run.images()
    splits = {name: Split(features[name], split.y) for name, split in labels.splits().items()}
    m1 = run.data()
    return Dataset(
        "codes",
        **splits,
        num_classes=m1.num_classes,
        description=f"the codes (means of q({now['code_site']} | x)) of run {run.directory} ({now['experiment']}: "
        f"{now['model']} with {now['guide']}) on {m1.description}",
        options={"of": str(run.directory), "provenance": now},
    )
