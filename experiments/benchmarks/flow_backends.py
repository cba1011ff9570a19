"""Which flow library the flow encoder is built on: Pyro's conditional transforms against zuko, on the same run.

Each encoder (the 784-200-200 tanh trunk, then a flow of 50 latents conditioned on the trunk's context
features) is trained with the same decoder initialization, data, seed and epochs (Trace_ELBO, batch 100),
then measured on the same test images: training seconds per epoch, importance weighting with K draws
(seconds, mean log p-hat, share of Pareto k-hat > 0.7). The flows:

- ``pyro-iaf``: ``ppl_vae.guides.flow.FlowEncoder``, 2 inverse autoregressive steps (Pyro's
  ``ConditionalAffineAutoregressive``): one network pass per draw;
- ``zuko-maf``: zuko's masked autoregressive flow through ``pyro.contrib.zuko.ZukoToPyro``, 2 transforms:
  drawing inverts it, one pass per latent dimension (50);
- ``zuko-maf-coupling``: the same with two passes per transform (``passes=2``, a coupling flow).

Needs zuko (``pip install zuko``) for the zuko rows; without it they are skipped, said.

    python experiments/benchmarks/flow_backends.py [--train 10000] [--epochs 2] [--examples 300] [--iw-samples 1000]
    python experiments/benchmarks/flow_backends.py --tiny     # random data, a few steps (the test suite)
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from _common import binarized_mnist_or_random

from ppl_vae import GuideContract
from ppl_vae.core.config import TrainingConfig
from ppl_vae.data import Split
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood, likelihood_summary
from ppl_vae.guides.base import AmortizedGuide
from ppl_vae.guides.flow import FlowEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE
from ppl_vae.train.trainer import Trainer

TRUNK = {"name": "mlp", "hidden": [200, 200], "activation": "tanh"}
LATENT, CONTEXT = 50, 100


class ZukoEncoder(AmortizedGuide):
    """q(z | x): zuko's conditional masked autoregressive flow on the trunk's context features."""

    contract = GuideContract(density=True)

    def __init__(self, x_shape, latent_dim: int, encoder, passes: int | None):
        import zuko

        super().__init__(x_shape, latent_dim, encoder, CONTEXT)
        self.flow = zuko.flows.MAF(latent_dim, CONTEXT, transforms=2, hidden_features=(200,), passes=passes)

    def distribution(self, params):
        from pyro.contrib.zuko import ZukoToPyro

        return ZukoToPyro(self.flow(params))


def encoders() -> dict[str, object]:
    """The encoders compared; the zuko ones only where zuko imports."""
    made = {"pyro-iaf": lambda: FlowEncoder((1, 28, 28), LATENT, TRUNK, "iaf", 2, [200], CONTEXT)}
    try:
        import zuko  # noqa: F401
    except ImportError:
        print("zuko rows skipped: zuko is not installed (pip install zuko)")
        return made
    made["zuko-maf"] = lambda: ZukoEncoder((1, 28, 28), LATENT, TRUNK, None)
    made["zuko-maf-coupling"] = lambda: ZukoEncoder((1, 28, 28), LATENT, TRUNK, 2)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10000, help="training images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--examples", type=int, default=300, help="test images importance-weighted")
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n_train, epochs, examples, k = (
        (200, 1, 4, 30) if args.tiny else (args.train, args.epochs, args.examples, args.iw_samples)
    )
    full, where = binarized_mnist_or_random(random=args.tiny, size=max(n_train, 1000))
    data = full.with_splits({"train": Split(full.train.x[:n_train]), "valid": Split(full.valid.x[:500])})
    test = full.test.x[:examples]
    print(f"{n_train} training images of {where}, {epochs} epoch(s); {examples} test images, K = {k}")
    rows = {}
    for name, make in encoders().items():
        torch.manual_seed(0)
        model = BernoulliVAE((1, 28, 28), LATENT, decoder=TRUNK)
        pair = Pair(model, make())
        pair.check(data.valid.x[:8])
        history = Trainer(pair, data, TrainingConfig(epochs=epochs, seed=0), verbose=False).fit()
        importance_weighted_log_likelihood(pair, test[:1], num_samples=30)  # warm-up (ArviZ's import) out of the timing
        start = time.perf_counter()
        summary = likelihood_summary(importance_weighted_log_likelihood(pair, test, num_samples=k), 784)
        rows[name] = (sum(r.seconds for r in history) / epochs, time.perf_counter() - start, summary)
    base = rows["pyro-iaf"]
    print(f"  {'flow':<18} {'s/epoch':>8} {'x':>6} {'IW s':>8} {'x':>6} {'log p-hat':>10} {'k-hat > 0.7':>12}")
    for name, (epoch, weighting, summary) in rows.items():
        share = summary["khat_above_0.7_share"]
        print(
            f"  {name:<18} {epoch:>8.1f} {epoch / base[0]:>6.2f} {weighting:>8.1f} {weighting / base[1]:>6.2f} "
            f"{summary['iw_log_likelihood_nats']:>10.2f} {'-' if share is None else f'{share:.3f}':>12}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
