"""The feature network of the sample-quality measures: a small convolutional classifier of the real images.

Sample-quality measures compare generated and real images in the features of a network that
knows the data. The published FID uses Inception v3 trained on ImageNet; for 28 x 28 digits this
package trains its own: the ``conv`` encoder of ``ppl_vae.networks.conv`` (convolutions to 32 and
64 maps, kernel 4, stride 2, ReLU), one hidden layer of :data:`FEATURES` ReLU units (the feature
space), and a linear layer to the class logits. It is trained on the real training images and
their labels (Adam at 1e-3, batches of 128, :func:`training_steps` steps) and its accuracy on the
real test images is measured and kept with it, so that every figure measured in its features can
say how well it knows the data.

It is trained once per dataset and cached: ``$PPL_VAE_CACHE/feature_classifiers/`` (default
``~/.cache/ppl_vae``), one file per dataset name, digest of its training and test splits, seed and
:data:`VERSION` of this recipe, written atomically (``ppl_vae.core.files``). A file that cannot be
read is replaced by a new training.
"""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import MeasureError
from ppl_vae.core.files import atomic_write_bytes
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import fingerprint
from ppl_vae.networks import build_network

CACHE_ENV = "PPL_VAE_CACHE"
FEATURES = 128
VERSION = 1  # of the architecture and training recipe: a change makes new cache files
BATCH_SIZE = 128
MIN_STEPS, MIN_EPOCHS = 600, 5


def cache_dir() -> Path:
    """Where trained feature classifiers are kept: ``$PPL_VAE_CACHE/feature_classifiers`` (default
    ``~/.cache/ppl_vae/feature_classifiers``)."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "ppl_vae") / "feature_classifiers"


def training_steps(examples: int) -> int:
    """Steps of training on ``examples`` images: at least :data:`MIN_EPOCHS` epochs and :data:`MIN_STEPS` steps."""
    return max(MIN_STEPS, MIN_EPOCHS * math.ceil(examples / BATCH_SIZE))


class FeatureClassifier(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> features (N, :data:`FEATURES`) (``forward``, what torchmetrics calls a
    feature extractor) and class logits (N, num_classes) (:meth:`logits`); ``test_accuracy`` on the real test
    images, set by :func:`feature_classifier`."""

    def __init__(self, image_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.image_shape, self.num_classes, self.num_features = tuple(image_shape), num_classes, FEATURES
        self.network = build_network(
            {"name": "conv", "channels": [32, 64], "hidden": [FEATURES]},
            self.image_shape,
            (num_classes,),
            where="the feature classifier",
        )
        self.test_accuracy = math.nan

    def forward(self, images: Tensor) -> Tensor:
        """Features (N, FEATURES): the hidden layer before the logits."""
        network = self.network
        return network.head[:-1](network.convolutions(images.reshape(-1, *self.image_shape)).flatten(1))

    def logits(self, images: Tensor) -> Tensor:
        """Class logits (N, num_classes)."""
        return self.network.head[-1](self(images))

    @torch.no_grad()
    def apply(self, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        """(features (N, FEATURES), p(y | x) (N, num_classes)) of ``images`` (N, *image_shape), float64 on the
        CPU, in evaluation mode."""
        self.eval()
        features, probabilities = [], []
        for chunk in images.split(batch_size):
            hidden = self(chunk.float())
            features.append(hidden.double())
            probabilities.append(self.network.head[-1](hidden).softmax(-1).double())
        return torch.cat(features), torch.cat(probabilities)


def _require_labelled_images(data: Dataset) -> None:
    if data.image_shape is None or len(data.x_shape) != 3:
        raise MeasureError(
            f"dataset {data.name} holds vectors, not images: the feature classifier of the sample-quality measures "
            "reads images"
        )
    if data.num_classes is None or data.train.y is None or data.test.y is None:
        raise MeasureError(
            f"dataset {data.name} has no labels: the feature classifier of the sample-quality measures is trained "
            "on labelled images, so these measures do not apply"
        )


def train_feature_classifier(data: Dataset, seed: int = 0) -> FeatureClassifier:
    """A :class:`FeatureClassifier` trained on ``data``'s labelled training images (values in [0, 1]) with ``seed``,
    its test accuracy measured; on the CPU, drawing nothing from the caller's random streams."""
    _require_labelled_images(data)
    x, y = data.train.x.float().cpu(), data.train.y.cpu()
    with frozen(seed), torch.enable_grad():
        classifier = FeatureClassifier(data.image_shape, data.num_classes)
        optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3)
        classifier.train()
        steps, done = training_steps(len(x)), 0
        while done < steps:
            for batch in torch.randperm(len(x)).split(BATCH_SIZE):
                loss = F.cross_entropy(classifier.logits(x[batch]), y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += 1
                if done == steps:
                    break
    _, probabilities = classifier.apply(data.test.x.cpu())
    classifier.test_accuracy = float((probabilities.argmax(-1) == data.test.y.cpu()).double().mean())
    return classifier


def cache_path(data: Dataset, seed: int) -> Path:
    """The cache file of ``data``'s classifier trained with ``seed``."""
    digests = fingerprint(data)
    key = f"{digests['train'][:12]}{digests['test'][:12]}"
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in data.name)
    return cache_dir() / f"{name}-{key}-seed{seed}-v{VERSION}.pt"


def feature_classifier(data: Dataset, seed: int = 0) -> FeatureClassifier:
    """The feature classifier of ``data`` (labelled images in [0, 1], such as ``TrainedRun.images()``): loaded
    from the cache (:func:`cache_dir`) when it holds one for these images and ``seed``, else trained
    (:func:`train_feature_classifier`) and cached.

    Raises MeasureError for vector data or data without labels."""
    _require_labelled_images(data)
    path = cache_path(data, seed)
    classifier = FeatureClassifier(data.image_shape, data.num_classes)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        classifier.load_state_dict(state["parameters"])
        classifier.test_accuracy = float(state["test_accuracy"])
        return classifier
    except (OSError, RuntimeError, KeyError, ValueError, EOFError, TypeError, pickle.UnpicklingError):
        pass  # absent or unreadable: trained again below
    classifier = train_feature_classifier(data, seed)
    buffer = io.BytesIO()
    torch.save({"parameters": classifier.state_dict(), "test_accuracy": classifier.test_accuracy}, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: f.write(buffer.getvalue()))
    return classifier
