"""``ppl-vae list``: every registered name, by kind, with the module that defines it; the shipped experiments."""

from __future__ import annotations

from ppl_vae.core.config import load_experiment, shipped_experiments
from ppl_vae.core.registry import (
    DATASETS,
    GUIDES,
    LIKELIHOODS,
    LOGGERS,
    MODELS,
    NETWORKS,
    OBJECTIVES,
    OPTIMIZERS,
    PRIORS,
    REPORTS,
    SAMPLE_FIGURES,
    SCHEDULES,
    STATISTICS,
    STRATEGIES,
    Registry,
)

KINDS: dict[str, Registry] = {
    "models": MODELS,
    "guides": GUIDES,
    "likelihoods": LIKELIHOODS,
    "priors": PRIORS,
    "networks": NETWORKS,
    "datasets": DATASETS,
    "strategies": STRATEGIES,
    "objectives": OBJECTIVES,
    "optimizers": OPTIMIZERS,
    "schedules": SCHEDULES,
    "statistics": STATISTICS,
    "report hooks": REPORTS,
    "sample figures": SAMPLE_FIGURES,
    "loggers": LOGGERS,
}


def listing(experiment: str | None = None) -> dict[str, dict[str, str]]:
    """Every registered name by kind (``name -> module``), after loading ``experiment``'s plugins when given,
    and the shipped experiments (``name -> "experiments"``). Imports no model code: built-in names come
    from the registries' lists."""
    if experiment:
        load_experiment(experiment)
    kinds = {kind: registry.modules() for kind, registry in KINDS.items()}
    kinds["experiments"] = {name: "ppl_vae.experiments" for name in shipped_experiments()}
    return kinds
