"""A model and a guide as one module, with what they declare and what the pairing check learned."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ppl_vae.core.contract import GuideContract, ModelContract
from ppl_vae.core.devices import module_device
from ppl_vae.core.errors import ConfigError
from ppl_vae.data.checks import check_data
from ppl_vae.infer.pairing import Pairing, check_pair


def declared(module: Any, kind: type, role: str, name: str) -> Any:
    """The contract a model or guide instance declares (its ``contract`` attribute)."""
    contract = getattr(module, "contract", None)
    if not isinstance(contract, kind):
        raise ConfigError(
            f"the {role} '{name}' declares no {kind.__name__}: give its class a `contract = {kind.__name__}(...)` "
            f"attribute, or register it with register_{role}('{name}', contract={kind.__name__}(...))"
        )
    return contract


class Pair(nn.Module):
    """``model`` and ``guide`` as submodules: ``.to(device, dtype)`` moves both, ``parameters()`` and
    ``state_dict()`` (keys ``model.*``, ``guide.*``) cover both.

    Their contracts are read from their ``contract`` attributes. :meth:`check` runs the pairing
    check on a few examples and records how deep plates nest (``max_plate_nesting``). A pair is
    in evaluation mode (``nn.Module.eval``) except while :class:`~ppl_vae.train.trainer.Trainer` takes steps.
    """

    def __init__(self, model: nn.Module, guide: nn.Module, model_name: str = "model", guide_name: str = "guide"):
        super().__init__()
        self.model, self.guide = model, guide
        self.model_name, self.guide_name = model_name, guide_name
        self.model_contract: ModelContract = declared(model, ModelContract, "model", model_name)
        self.guide_contract: GuideContract = declared(guide, GuideContract, "guide", guide_name)
        self.max_plate_nesting = 1
        self.pairing: Pairing | None = None  # set by check()
        self.eval()  # training mode only while a trainer takes steps

    @property
    def device(self):
        return module_device(self)

    def check(self, x: Tensor, y: Tensor | None = None) -> Pairing:
        """The pairing check (``ppl_vae.infer.pairing``) on examples ``x`` (and their ``y``), on the pair's device,
        after checking the scored examples against the model's support (``ppl_vae.data.checks.check_data``)."""
        device = self.device
        check_data(self.scored(x, y), self.model_contract.support, what=f"the data {self.model_contract.observed}")
        pairing = check_pair(
            self.model,
            self.guide,
            x.to(device),
            None if y is None else y.to(device),
            self.model_name,
            self.guide_name,
            self.model_contract.observed,
            implicit=not self.model_contract.density,
            latents=self.model_contract.latents,
            covers=self.guide_contract.covers,
            label_latent=self.model_contract.label_latent,
        )
        self.max_plate_nesting = pairing.max_plate_nesting
        self.pairing = pairing
        return pairing

    def scored(self, x: Tensor, y: Tensor | None) -> Tensor | None:
        """Of the model's two arguments, the one its likelihood scores: ``x``, or ``y`` for structured outputs."""
        return x if self.model_contract.observed == "x" else y
