"""The baseline a semi-supervised model must beat: its classifier network trained on the labelled examples alone.

The network (any registered network spec, such as a semi-supervised guide's ``[guide.classifier]``) maps x to
class logits and is trained by Adam on the cross-entropy of the labelled training examples only, for a fixed
number of epochs (no labels are left to stop early on), in mini-batches drawn with the seed; under dynamic
binarization each batch is redrawn as Bernoulli(x), as the semi-supervised model's inputs are. Its accuracy is
measured on the test split. Pyro's semi-supervised VAE tutorial reports 77.1% for this baseline with 100
MNIST labels (a multilayer perceptron).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from ppl_vae.core.devices import forked
from ppl_vae.infer.sizing import batches
from ppl_vae.networks import build_network


def train_classifier(
    network: Any,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    epochs: int = 300,
    learning_rate: float = 1e-3,
    batch_size: int = 100,
    dynamic_binarization: bool = False,
    seed: int = 0,
) -> torch.nn.Module:
    """The network ``network`` (a spec) for x (N, *x_shape) -> num_classes logits, trained on labels y (N,) by Adam
    for ``epochs`` passes of ``batch_size`` examples; random streams seeded by ``seed`` and left as they were."""
    with torch.enable_grad(), forked(seed, x.device):
        classifier = build_network(network, tuple(x.shape[1:]), (num_classes,), 0, "classifier").to(x.device, x.dtype)
        optimizer = torch.optim.Adam(classifier.parameters(), lr=learning_rate)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=generator).to(x.device)
            for s in batches(len(x), batch_size):
                inputs = x[order[s]]
                if dynamic_binarization:
                    inputs = torch.bernoulli(inputs)
                loss = F.cross_entropy(classifier(inputs), y[order[s]])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return classifier.eval()


def accuracy(classifier: torch.nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Share of the examples x (N, *x_shape) whose most probable class under ``classifier`` is their label y (N,)."""
    with torch.no_grad():
        correct = sum(int((classifier(x[s]).argmax(-1) == y[s]).sum()) for s in batches(len(x), batch_size))
    return correct / len(x)
