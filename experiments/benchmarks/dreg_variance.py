"""The DReG estimator against IWAE's: the same gradient in expectation, a lower variance for the encoder.

For a pair and a batch of examples, draws R independent gradient estimates of the IW-K bound with each
estimator (``iwae``: the reparameterized gradient of Burda et al. 2016; ``iwae_dreg``: Tucker et al.
2019) and prints, for the encoder's and the decoder's parameters: the summed variance of each, their
ratio (DReG / IWAE), the largest difference of the mean gradients in standard errors, and the
signal-to-noise ratio |mean| / sd averaged over the encoder's parameters, for K in {1, 5, 50}
(Rainforth et al. 2018: IWAE's encoder signal falls as K grows).

    python experiments/benchmarks/dreg_variance.py [--repeats 300] [--examples 20] [--threads 1]
    python experiments/benchmarks/dreg_variance.py --tiny     # the digits' size, a few repeats (the test suite)
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from ppl_vae.core.config import TrainingConfig
from ppl_vae.data.datasets import load_digits
from ppl_vae.data.transforms import binarize, to_floating
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.objectives import make_objective
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE
from ppl_vae.train.trainer import Trainer


def trained_pair(epochs: int, seed: int = 0) -> tuple[Pair, torch.Tensor]:
    """The default experiment's pair (Bernoulli VAE, Gaussian encoder, 8 latents) trained a few epochs on the
    binarized digits, and its test images."""
    torch.manual_seed(seed)
    model, guide = BernoulliVAE((1, 8, 8), 8, decoder={"name": "mlp", "hidden": [128]}), GaussianEncoder((1, 8, 8), 8)
    data = binarize(to_floating(load_digits()), "threshold", model.contract)
    pair = Pair(model, guide)
    pair.check(data.valid.x[:8])
    Trainer(pair, data, TrainingConfig(epochs=epochs, learning_rate=3e-3), verbose=False).fit()
    return pair, data.test.x


def estimates(name: str, pair: Pair, x: torch.Tensor, k: int, repeats: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(encoder gradients (R, P_q), decoder gradients (R, P_p)), one row per independent estimate."""
    loss = make_objective(name, k)(pair.model, pair.guide)
    rows = ([], [])
    for _ in range(repeats):
        pair.zero_grad()
        loss(x).backward()
        for row, module in zip(rows, (pair.guide, pair.model)):
            row.append(torch.cat([p.grad.reshape(-1) for p in module.parameters()]))
    return torch.stack(rows[0]), torch.stack(rows[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of the pair before measuring")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats, examples, epochs, ks = args.repeats, args.examples, args.epochs, (1, 5, 50)
    if args.tiny:
        repeats, examples, epochs, ks = 20, 4, 1, (5,)
    pair, test = trained_pair(epochs)
    x = test[:examples]
    print(f"{repeats} gradient estimates per estimator on {examples} test digits, pair trained {epochs} epochs")
    print(
        f"{'K':>4} {'part':>8} {'var IWAE':>12} {'var DReG':>12} {'ratio':>7} {'max |dmean|/se':>15} {'SNR IWAE':>9} "
        f"{'SNR DReG':>9} {'s':>6}"
    )
    for k in ks:
        torch.manual_seed(k)
        start = time.perf_counter()
        iwae = estimates("iwae", pair, x, k, repeats)
        dreg = estimates("iwae_dreg", pair, x, k, repeats)
        seconds = time.perf_counter() - start
        for part, a, b in (("encoder", iwae[0], dreg[0]), ("decoder", iwae[1], dreg[1])):
            error = (a.var(0) / repeats + b.var(0) / repeats).sqrt().clamp_min(1e-12)
            shift = ((a.mean(0) - b.mean(0)).abs() / error).max().item()
            snr = [(g.mean(0).abs() / g.std(0).clamp_min(1e-12)).mean().item() for g in (a, b)]
            print(
                f"{k:>4} {part:>8} {a.var(0).sum().item():>12.4g} {b.var(0).sum().item():>12.4g} "
                f"{(b.var(0).sum() / a.var(0).sum()).item():>7.3f} {shift:>15.2f} {snr[0]:>9.3f} {snr[1]:>9.3f} "
                f"{seconds:>6.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
