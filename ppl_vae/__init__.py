"""ppl_vae: variational autoencoders as swappable Pyro model/guide pairs.

Importing ppl_vae sets ``pyro.settings.set(module_local_params=True)``: parameters
of every PyroModule stay in that module (plain ``nn.Parameter`` s, saved with
``state_dict``) instead of Pyro's global parameter store, so two models built in one
process never share weights by name. This is the setting Pyro recommends for
training PyroModules with PyTorch optimizers.
"""

import pyro

from ppl_vae.registry import register_dataset, register_guide, register_model, register_statistic

pyro.settings.set(module_local_params=True)

__all__ = ["register_dataset", "register_guide", "register_model", "register_statistic"]
__version__ = "0.1.0"
