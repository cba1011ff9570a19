"""The base of objectives written as a differentiable loss: subclass, write ``differentiable_loss``, register."""

from __future__ import annotations

import torch
from pyro.infer import ELBO


class Objective(ELBO):
    """A Pyro ``ELBO`` defined by its :meth:`differentiable_loss` alone: the negative bound summed over the batch,
    nats, differentiable in the parameters of model and guide. ``loss`` and ``loss_and_grads`` (Pyro's SVI
    route) follow from it; calling the objective on a model and a guide gives Pyro's ``ELBOModule``, the
    route the engine trains by. Pyro's own ``Trace_ELBO`` family is used as it is; Pyro's ``RenyiELBO``
    computes no differentiable loss, so a Rényi bound is written this way (see ``docs/plugins.md``)."""

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            return self.differentiable_loss(model, guide, *args, **kwargs).item()

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        loss.backward()
        return loss.item()

    def _get_trace(self, model, guide, args, kwargs):
        raise NotImplementedError(f"{type(self).__name__} computes its bound from ppl_vae.infer.weights, not traces")
