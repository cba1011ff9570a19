"""ppl_vae: deep generative models as swappable Pyro model/guide pairs, trained with SVI, checked and measured.

Importing ppl_vae changes no global setting (Pyro's ``module_local_params`` included) and loads
neither torch nor Pyro: the names below load on first use.

The package is layered; each subpackage imports only those listed before it:

- ``core``: registries, contracts, experiment config, errors, devices, plugins, file writes;
- ``data``: datasets, their checks and transforms; ``networks``: MLP, conv, autoregressive;
- ``models`` and ``guides``: p(z) p(x | z) and q(z | x), meeting only at named sample sites;
- ``infer``: the pair and its pairing check, log-weights, objectives, bounds, predictive draws;
- ``train``: the trainer, strategies, optimizers, schedules, checkpoints, distributed training;
- ``evaluation``: likelihood, predictive checks, classification, probes, latent measures, OOD;
- ``report``: figures and the end-of-run report; ``runs``: run directories;
- ``commands``: what each ``ppl-vae`` command does; ``cli``: the command line over them.
"""

from __future__ import annotations

import importlib

from ppl_vae.core.registry import (
    register_dataset,
    register_guide,
    register_likelihood,
    register_logger,
    register_model,
    register_network,
    register_objective,
    register_optimizer,
    register_prior,
    register_report,
    register_sample_figure,
    register_schedule,
    register_statistic,
    register_strategy,
)

_LAZY = {
    "Conditioning": "ppl_vae.core.contract",
    "GuideContract": "ppl_vae.core.contract",
    "ModelContract": "ppl_vae.core.contract",
    "Pair": "ppl_vae.infer.pair",
    "PyroFunction": "ppl_vae.core.functions",
    "TrainingConfig": "ppl_vae.core.config",
    "Trainer": "ppl_vae.train.trainer",
    "load_experiment": "ppl_vae.core.config",
    "load_trained": "ppl_vae.runs.trained",
    "train_experiment": "ppl_vae.runs.training",
}

__all__ = [
    "register_dataset",
    "register_guide",
    "register_likelihood",
    "register_logger",
    "register_model",
    "register_network",
    "register_objective",
    "register_optimizer",
    "register_prior",
    "register_report",
    "register_sample_figure",
    "register_schedule",
    "register_statistic",
    "register_strategy",
    *_LAZY,
]
__version__ = "0.3.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ppl_vae' has no attribute '{name}'")
