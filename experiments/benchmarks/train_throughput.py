"""One training epoch of ppl_vae's SVI loop against a hand-written PyTorch loop.

Same network (the IWAE paper's 784-200-200-50 tanh encoder and decoder), same loss
(single-sample ELBO with Monte Carlo KL, as Trace_ELBO computes it), same Adam, same
batch size, same data, in the same process. Prints seconds per epoch and the ratio
ppl_vae / hand-written (target: <= 1.25 at batch size 100).

    python experiments/benchmarks/train_throughput.py [--batch-size 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _common import binarized_mnist_or_random
from torch.nn import functional as F

import ppl_vae  # noqa: F401  (module-local Pyro parameters)
from ppl_vae.config import TrainingConfig
from ppl_vae.data import Split
from ppl_vae.guides.gaussian import GaussianEncoder
from ppl_vae.models.bernoulli import BernoulliVAE
from ppl_vae.train import Trainer

LOG_2PI = math.log(2 * math.pi)


def build(seed: int):
    torch.manual_seed(seed)
    model = BernoulliVAE(784, latent_dim=50, hidden=(200, 200), activation="tanh")
    guide = GaussianEncoder(784, latent_dim=50, hidden=(200, 200), activation="tanh")
    return model, guide


def hand_written_epoch(x_train: torch.Tensor, batch_size: int, seed: int) -> float:
    """The same VAE written directly in PyTorch: seconds for one epoch."""
    model, guide = build(seed)
    optimizer = torch.optim.Adam([*model.parameters(), *guide.parameters()], lr=1e-3)
    order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))
    x_all = x_train[order]
    start = time.perf_counter()
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size]
        loc, raw = guide.encoder(x).split(50, dim=-1)
        scale = guide.min_scale + F.softplus(raw)
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        log_q = (-0.5 * eps**2 - scale.log() - 0.5 * LOG_2PI).sum(-1)
        log_p_z = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
        logits = model.decoder(z)
        log_p_x = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        loss = -(log_p_x + log_p_z - log_q).sum() / x.shape[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def ppl_vae_epoch(data, batch_size: int, seed: int) -> float:
    """One epoch of :class:`ppl_vae.train.Trainer` (Trace_ELBO): seconds, validation excluded."""
    model, guide = build(seed)
    config = TrainingConfig(objective="trace_elbo", learning_rate=1e-3, batch_size=batch_size, epochs=1, seed=seed)
    trainer = Trainer(model, guide, data, config)
    trainer.validation_bound = lambda: 0.0  # time the training steps only
    start = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, source = binarized_mnist_or_random()
    data = type(data)(
        data.name,
        data.train,
        Split(data.valid.x[:100]),
        data.test,
        data.image_shape,
        data.num_classes,
        data.description,
    )
    print(
        f"data: {source}; {len(data.train)} training images, batch size {args.batch_size}, "
        f"{args.threads} thread(s), best of {args.repeats}"
    )
    hand = min(hand_written_epoch(data.train.x, args.batch_size, s) for s in range(args.repeats))
    ours = min(ppl_vae_epoch(data, args.batch_size, s) for s in range(args.repeats))
    steps = math.ceil(len(data.train) / args.batch_size)
    print(f"hand-written PyTorch: {hand:.2f} s/epoch ({1000 * hand / steps:.2f} ms/step)")
    print(f"ppl_vae Trace_ELBO:   {ours:.2f} s/epoch ({1000 * ours / steps:.2f} ms/step)")
    print(f"ratio ppl_vae / hand-written: {ours / hand:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
