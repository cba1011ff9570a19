"""Training steps of ppl_vae's SVI loop, eager and compiled, against the same VAE hand-written in PyTorch.

Same networks (the IWAE paper's 784-200-200-50 tanh MLP; the conv pair of ``conv_binarized_mnist``),
same loss (single-sample ELBO with Monte Carlo KL, as Trace_ELBO computes it), same Adam, same
batch size, same data, same device, in the same process. Prints milliseconds per step and the
ratio ppl_vae / hand-written (targets on the CPU: MLP <= 1.15, conv <= 1.05), and the same with
``training.compile = true`` (the direct ELBO compiled whole by ``torch.compile``; compiling, done before
the timed steps, is not counted), and the device.

    python experiments/benchmarks/train_throughput.py [--batch-size 100] [--threads 1] [--steps 300] [--no-compile]
    python experiments/benchmarks/train_throughput.py --tiny     # a few eager steps on random data (the test suite)
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import pyro
import torch
from _common import NETWORKS, benchmark_pair, binarized_mnist_or_random
from torch.nn import functional as F

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.devices import resolve_device
from ppl_vae.data import Dataset, Split
from ppl_vae.train.trainer import Trainer

LOG_2PI = math.log(2 * math.pi)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_written(kind: str, x_train: torch.Tensor, batch_size: int, seed: int, device: torch.device) -> float:
    """The same VAE written directly in PyTorch: seconds for the steps over ``x_train``."""
    pair = benchmark_pair(kind, seed, device)
    model, guide = pair.model, pair.guide
    latent = guide.latent_dim
    optimizer = torch.optim.Adam(pair.parameters(), lr=1e-3)
    order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))
    synchronize(device)
    start = time.perf_counter()
    for i in range(0, len(x_train), batch_size):
        x = x_train[order[i : i + batch_size].to(x_train.device)]
        loc, raw = guide.encoder(x).split(latent, dim=-1)
        scale = guide.min_scale + F.softplus(raw)
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        log_q = (-0.5 * eps**2 - scale.log() - 0.5 * LOG_2PI).sum(-1)
        log_p_z = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
        logits = model.decoder(z)
        log_p_x = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
        loss = -(log_p_x + log_p_z - log_q).sum() / x.shape[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - start


def through_ppl_vae(
    kind: str, data: Dataset, batch_size: int, seed: int, device: torch.device, compile: bool = False
) -> float:
    """One epoch of :class:`ppl_vae.train.trainer.Trainer` (Trace_ELBO, the SVI strategy; ``compile``:
    ``training.compile``, compiled on one step before the clock starts): seconds, validation excluded."""
    pair = benchmark_pair(kind, seed, device)
    pair.check(data.valid.x[:8])
    config = TrainingConfig(learning_rate=1e-3, batch_size=batch_size, epochs=1, seed=seed, compile=compile)
    trainer = Trainer(pair, data, config, verbose=False)
    trainer.validation_bound = lambda: 0.0  # time the training steps only
    if compile:
        x = data.train.x[:batch_size]
        pair.train()
        with pyro.validation_enabled(False):
            trainer.strategy.step(x, None, 1.0, len(x))
        pair.eval()
    synchronize(device)
    start = time.perf_counter()
    trainer.fit()
    synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300, help="training steps timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--networks", nargs="+", default=["mlp", "conv"], choices=list(NETWORKS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-compile", action="store_true", help="measure the eager steps only")
    parser.add_argument("--tiny", action="store_true", help="a few eager steps on random data (the test suite)")
    args = parser.parse_args()
    if args.tiny:  # compiling alone takes a minute on a CPU: tests/test_compile.py checks the compiled steps
        args.steps, args.repeats, args.batch_size, args.no_compile = 4, 1, 10, True
    torch.set_num_threads(args.threads)
    device, _ = resolve_device(args.device)
    data, source = binarized_mnist_or_random(random=args.tiny)
    n = min(len(data.train), args.steps * args.batch_size)
    data = data.with_splits({"train": Split(data.train.x[:n]), "valid": Split(data.valid.x[:100])})
    data = data.with_splits({name: s.to(device, torch.float32) for name, s in data.splits().items()})
    steps = math.ceil(n / args.batch_size)
    print(
        f"data: {source}; {steps} steps of batch {args.batch_size} on {device}, {args.threads} thread(s), "
        f"best of {args.repeats}"
    )
    for kind in args.networks:
        hand, ours, compiled = [], [], []
        for seed in range(args.repeats):  # interleaved, so that a slow spell of the machine hits all of them
            hand.append(hand_written(kind, data.train.x, args.batch_size, seed, device))
            ours.append(through_ppl_vae(kind, data, args.batch_size, seed, device))
            if not args.no_compile:
                compiled.append(through_ppl_vae(kind, data, args.batch_size, seed, device, compile=True))
        hand, ours = min(hand), min(ours)
        line = (
            f"{kind:>4}: hand-written PyTorch {1000 * hand / steps:.2f} ms/step, ppl_vae {1000 * ours / steps:.2f} "
            f"ms/step, ratio {ours / hand:.3f}"
        )
        if compiled:
            best = min(compiled)
            line += (
                f"; compiled {1000 * best / steps:.2f} ms/step, ratio {best / hand:.3f} "
                f"({best / ours:.3f}x the eager step)"
            )
        print(line + ("" if compiled else "; compiled: not measured"), flush=True)


if __name__ == "__main__":
    sys.exit(main())
