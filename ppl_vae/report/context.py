"""What report hooks and sample figures see of a run, and how they are chosen for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ppl_vae.core.config import Experiment
from ppl_vae.core.contract import GuideContract, ModelContract
from ppl_vae.core.registry import Registry
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import random_subset
from ppl_vae.infer.pair import Pair


@dataclass(frozen=True)
class RunView:
    """What hooks may ask of a run: its contracts, whether its data are images, its class count."""

    model: ModelContract
    guide: GuideContract
    image_shape: tuple[int, ...] | None
    num_classes: int | None

    @classmethod
    def of(cls, pair: Pair, image_shape, num_classes) -> RunView:
        shape = None if image_shape is None else tuple(image_shape)
        return cls(pair.model_contract, pair.guide_contract, shape, num_classes)

    @property
    def encoded(self) -> bool:
        """The model has latents that its guide infers (not an implicit model's)."""
        return self.model.latent and self.model.density

    @property
    def scored(self) -> bool:
        """The pair estimates a likelihood: model and guide are densities."""
        return self.model.density and self.guide.density

    @property
    def images(self) -> bool:
        """The model generates whole images (not outputs, not vectors)."""
        return self.model.generates_images and self.image_shape is not None


@dataclass
class ReportContext:
    """A finished run as the hooks see it: best parameters loaded, data on its device."""

    run_dir: Path
    experiment: Experiment
    pair: Pair
    data: Dataset
    history: list
    view: RunView

    def test_examples(self, n: int) -> tuple[Tensor, Tensor | None]:
        """At most ``n`` test examples drawn at random with the training seed (kept in their order: a
        test split sorted by label, as binarized MNIST's is, must not give the first digits only)."""
        split, _ = random_subset(self.data.test, n, self.experiment.training.seed)
        return split.x, split.y


def chosen(registry: Registry, view: RunView) -> dict[str, Callable[..., Any]]:
    """The hooks of ``registry`` (report hooks, sample figures) whose ``when`` predicate accepts ``view``, in the
    registry's order."""
    return {
        name: hook
        for name, hook in registry.entries().items()
        if registry.metadata(name).get("when", lambda _: True)(view)
    }
