"""ppl_vae: deep generative models as swappable Pyro model/guide pairs, trained with SVI, checked and measured.

Importing ppl_vae changes no global setting (Pyro's ``module_local_params`` included) and loads
neither torch nor Pyro: the names below load on first use.
"""

from __future__ import annotations

import importlib

from ppl_vae.registry import (
    register_dataset,
    register_guide,
    register_likelihood,
    register_model,
    register_network,
    register_prior,
    register_statistic,
    register_strategy,
)

_LAZY = {
    "Conditioning": "ppl_vae.contract",
    "GuideContract": "ppl_vae.contract",
    "ModelContract": "ppl_vae.contract",
    "Pair": "ppl_vae.pair",
    "PyroFunction": "ppl_vae.functions",
    "TrainingConfig": "ppl_vae.config",
    "Trainer": "ppl_vae.train",
    "load_trained": "ppl_vae.run",
}

__all__ = [
    "register_dataset",
    "register_guide",
    "register_likelihood",
    "register_model",
    "register_network",
    "register_prior",
    "register_statistic",
    "register_strategy",
    *_LAZY,
]
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ppl_vae' has no attribute '{name}'")
