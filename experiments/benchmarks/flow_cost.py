"""What a flow encoder costs where it matters: importance weighting at K = 5000, against the diagonal encoder.

Both pairs have the 784-200-200-50 tanh decoder and encoder trunk of the IWAE paper; the flow encoder adds
the inverse autoregressive flow steps of experiments/flow_binarized_mnist.toml. Prints the seconds of
``importance_weighted_log_likelihood`` on the same N images (binarized MNIST, or random binary images of
its shape without ../shared/data) for each, and their ratio (target: at most 1.5), then the seconds of one
training step of each (batch 100, the direct ELBO).

    python experiments/benchmarks/flow_cost.py [--examples 200] [--iw-samples 5000] [--threads 2]
    python experiments/benchmarks/flow_cost.py --tiny     # a few examples, K = 50 (the test suite)
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from _common import binarized_mnist_or_random

from ppl_vae.core.config import TrainingConfig, load_experiment
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.guides import GaussianEncoder
from ppl_vae.guides.flow import FlowEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE
from ppl_vae.train.svi import SVIStrategy

TRUNK = {"name": "mlp", "hidden": [200, 200], "activation": "tanh"}


def pairs(seed: int = 0) -> dict[str, Pair]:
    """The diagonal and the flow encoder (the flow's options from flow_binarized_mnist) beside the same decoder."""
    flow_options = {k: v for k, v in load_experiment("flow_binarized_mnist").sections["guide"].items()}
    flow_options = {k: v for k, v in flow_options.items() if k in ("flow", "steps", "hidden", "context")}
    torch.manual_seed(seed)
    model = BernoulliVAE((1, 28, 28), latent_dim=50, decoder=TRUNK)
    diagonal = Pair(model, GaussianEncoder((1, 28, 28), latent_dim=50, encoder=TRUNK))
    flow = Pair(model, FlowEncoder((1, 28, 28), latent_dim=50, encoder=TRUNK, **flow_options))
    return {"diagonal": diagonal, "flow": flow}


def step_seconds(pair: Pair, x: torch.Tensor, steps: int) -> float:
    """Seconds of one SVI step (the one-particle ELBO) on the batch x, median of ``steps``."""
    strategy = SVIStrategy(pair, TrainingConfig(batch_size=len(x)))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        strategy.step(x, None, 1.0, len(x))
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[steps // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    examples, k, steps = (4, 50, 2) if args.tiny else (args.examples, args.iw_samples, args.steps)
    data, where = binarized_mnist_or_random(random=args.tiny, size=1000 if args.tiny else 50000)
    x = data.test.x[:examples]
    print(f"{examples} test images of {where}, K = {k}, {args.threads} thread(s)")
    seconds = {}
    for name, pair in pairs().items():
        pair.check(x[:8])
        importance_weighted_log_likelihood(pair, x[:1], num_samples=30)  # warm-up (ArviZ's import) out of the timing
        start = time.perf_counter()
        estimate = importance_weighted_log_likelihood(pair, x, num_samples=k)
        seconds[name] = time.perf_counter() - start
        step = step_seconds(pair, data.train.x[:100], steps)
        mean = estimate.log_likelihood.mean()
        print(
            f"  {name:<9} importance weighting {seconds[name]:8.2f} s  (mean log p-hat {mean:.2f}); "
            f"one training step {1000 * step:6.1f} ms"
        )
    print(f"flow / diagonal importance-weighting time: {seconds['flow'] / seconds['diagonal']:.2f}x (target 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
