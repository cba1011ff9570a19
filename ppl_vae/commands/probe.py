"""``ppl-vae probe``: what a run's codes are worth as features with few labels (a linear probe)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ppl_vae.commands.common import require_codes, require_positive, trained
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.files import write_json
from ppl_vae.evaluation.probe import ALL, chance
from ppl_vae.evaluation.probe import probe as probe_accuracy
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def label_counts(values: list[str | int]) -> list[int | str]:
    """Numbers of labels as given on a command line (``"100"``, ``"all"``) or in Python: whole numbers or 'all'."""
    counts = [ALL if c == ALL else int(c) if isinstance(c, str) and c.isdigit() else c for c in values]
    bad = [c for c in counts if c != ALL and (not isinstance(c, int) or isinstance(c, bool))]
    if bad:
        raise ConfigError(f"numbers of labels must be whole numbers or 'all', got {bad[0]!r}")
    return counts


def probe(
    run: TrainedRun | str | Path,
    labels: list[str | int] = (100, 1000, ALL),
    draws: int = 5,
    seed: int = 0,
    device: str | None = None,
) -> tuple[dict[str, Any], Path]:
    """Test accuracy of a logistic regression on the run's codes, its raw values and their PCA, with each number
    of ``labels`` (``draws`` label draws each); write ``probe-<labels>.json``. Returns (the figures, the file)."""
    require_positive(draws, "draws")
    counts = label_counts(list(labels))
    run = trained(run, device)
    require_codes(run, "probe")
    path = run.directory / f"probe-{'-'.join(str(c) for c in counts)}.json"
    with RunLock(run.directory, "probe"):
        data = run.data()
        start = time.perf_counter()
        table = probe_accuracy(run.pair, data, counts, draws, seed)
        summary = {"run": str(run.directory), "chance_accuracy": chance(data), "draws": draws, "accuracy": table}
        summary["seconds"] = round(time.perf_counter() - start, 1)
        write_json(path, summary)
    return summary, path
