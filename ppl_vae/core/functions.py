"""Plain Pyro model and guide functions, with the ``nn.Module`` s they use, as modules the engine can train.

A model can be a plain function ``model(x=None, y=None, num_samples=None)`` that calls
``pyro.sample`` inside ``pyro.plate("data", N)``. Register a factory that builds the networks
the function uses and returns them with it as a :class:`PyroFunction`, so that they are
trained, moved to the device and saved::

    @register_model("tiny_vae", contract=ModelContract(support=constraints.boolean))
    def tiny_vae(x_shape, latent_dim=4):
        decoder = nn.Sequential(nn.Linear(latent_dim, math.prod(x_shape)), nn.Unflatten(-1, x_shape))

        def model(x=None, y=None, num_samples=None):
            ...

        return PyroFunction(model, decoder=decoder)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ppl_vae.core.errors import ConfigError


class PyroFunction(nn.Module):
    """``fn`` (a Pyro model or guide function taking ``x, y, num_samples``) and the modules it uses.

    The modules become submodules (their parameters are this module's), so that training,
    ``.to(device)`` and ``state_dict`` reach them.
    """

    def __init__(self, fn: Callable[..., Any], **modules: nn.Module):
        super().__init__()
        name = getattr(fn, "__name__", type(fn).__name__)
        if not modules:
            raise ConfigError(
                f"PyroFunction({name}) got no modules: pass the nn.Modules that {name} uses, "
                f"as in PyroFunction({name}, decoder=decoder)"
            )
        for key, module in modules.items():
            if not isinstance(module, nn.Module):
                raise ConfigError(f"PyroFunction({name}): {key} is a {type(module).__name__}, not an nn.Module")
        self.fn = fn
        self.parts = nn.ModuleDict(modules)

    def forward(self, x=None, y=None, num_samples=None):
        return self.fn(x=x, y=y, num_samples=num_samples)
