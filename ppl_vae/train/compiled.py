"""Compiled training steps (``training.compile = true``): ``torch.compile`` where it works, eager elsewhere.

What compiles, and what does not:

- **The direct one-particle ELBO** (``ppl_vae.infer.direct_elbo``) is plain torch: the whole loss (encoder,
  reparameterized draw, decoder, log-densities, sums) compiles into one graph (:func:`compiled_function`),
  and its backward pass with it (AOTAutograd); the optimizer step stays eager.
- **Pyro's traced route** (every other objective and pair, the adversarial strategies) does not: Pyro's effect
  handlers keep a global stack of messengers, call ``sys._getframe`` and turn tensors into Python numbers
  (``pyro.infer.util.torch_item``), so TorchDynamo breaks ``Trace_ELBO`` into half a dozen graphs with Python
  in between. There the networks are compiled instead (:class:`CompiledNetworks`): each outermost
  :class:`~ppl_vae.networks.Network` of the pair (and of a strategy's extra networks) runs compiled inside
  Pyro's eager tracing, during the training steps only.

Random draws inside a compiled graph come from torch's own generators, as in eager mode
(inductor's ``fallback_random``): a compiled step draws the same noise as the eager one from the same random
state, so a compiled run is checkpointed and resumed exactly as an eager one, and the agreement check of the
direct ELBO holds for it. Nothing is wrapped in a module of its own: parameter names (``state_dict`` keys) are
those of the eager pair, with no ``_orig_mod``, so a compiled run's checkpoint loads into an eager pair and
back. Compiling costs seconds to a minute at the first step (cached on disk afterwards by torch); what it
buys depends on the device and the network: ``experiments/benchmarks/train_throughput.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ppl_vae.networks import Network

INDUCTOR_OPTIONS = {"fallback_random": True}  # draws from torch's generators, as eager code does


def compiled_function(function: Callable[..., Any], backend: str = "inductor") -> Callable[..., Any]:
    """``torch.compile(function)`` by ``backend`` (``"inductor"``, torch's compiler; ``"eager"`` traces the graphs
    and runs them uncompiled, for checks), with inductor's random draws taken as eager code takes them."""
    options = {"options": INDUCTOR_OPTIONS} if backend == "inductor" else {}
    return torch.compile(function, backend=backend, **options)


def outermost_networks(modules: Iterable[nn.Module]) -> list[nn.Module]:
    """The :class:`~ppl_vae.networks.Network` submodules of ``modules`` that sit inside no other Network, in
    the order ``named_modules`` visits them (each once)."""
    found: list[nn.Module] = []
    seen: set[int] = set()

    def visit(module: nn.Module) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        if isinstance(module, Network):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    for module in modules:
        visit(module)
    return found


class CompiledNetworks:
    """A context in which every outermost network of ``modules`` runs compiled (:func:`outermost_networks`).

    Each network's ``forward`` is compiled once, when this is built; entering the context sets it as the
    instance's ``forward``, leaving restores the class's eager one. The modules, their parameters and their
    ``state_dict`` keys are untouched. ``backend``: see :func:`compiled_function`.
    """

    def __init__(self, modules: Iterable[nn.Module], backend: str = "inductor"):
        self.networks = outermost_networks(modules)
        self.compiled = [compiled_function(network.forward, backend) for network in self.networks]

    def __enter__(self) -> CompiledNetworks:
        for network, compiled in zip(self.networks, self.compiled):
            network.forward = compiled
        return self

    def __exit__(self, *exc: object) -> None:
        for network in self.networks:
            network.__dict__.pop("forward", None)
