"""Speed of the importance-weighted log-likelihood at K = 5000 with the 784-200-200-50 pair.

Prints, for N test images of binarized MNIST (random binary data of the same shape
when ../shared/data is absent):

(a) the time against a lower bound computed in the same run: the network's
    multiply-adds for N * K (decoder) and N * chunks (encoder) passes, divided by this
    machine's measured float32 matrix-multiply throughput at the same matrix shapes;
(b) the time against the same log-weights hand-written in PyTorch at the same chunk shapes
    (encoder, reparameterized draws, decoder, Bernoulli log-densities as sum_d x_d l_d - sum_d softplus(l_d),
    Normal log-densities, logsumexp): the floor of any implementation of this network, its activations and
    likelihood included, which the matrix-multiply bound of (a) leaves out;
(c) the time against Pyro's ``vectorized_importance_weights`` route for the same work:
    that function sums the log-weights over the data plate, so per-example estimates
    need one call per example (timed on a few examples and scaled to N).

    python experiments/benchmarks/iw_speed.py [--examples 10000] [--iw-samples 5000] [--threads 2]
    python experiments/benchmarks/iw_speed.py --tiny      # a few examples on random data (the test suite)
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
from _common import benchmark_pair, binarized_mnist_or_random
from pyro.infer.importance import vectorized_importance_weights
from torch.nn import functional as F

from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import DEFAULT_MAX_ELEMENTS, chunk_sizes

SIZES = [50, 200, 200, 784]  # decoder; the encoder is 784-200-200-100
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def matmul_flops_per_second(rows: int) -> float:
    """Measured float32 throughput of the decoder's three matrix products at ``rows`` rows."""
    weights = [torch.randn(a, b) for a, b in zip(SIZES[:-1], SIZES[1:])]
    inputs = [torch.randn(rows, a) for a in SIZES[:-1]]
    for _ in range(2):
        for x, w in zip(inputs, weights):
            x @ w
    repeats, start = 5, time.perf_counter()
    for _ in range(repeats):
        for x, w in zip(inputs, weights):
            x @ w
    seconds = (time.perf_counter() - start) / repeats
    return 2 * rows * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:])) / seconds


def hand_written_seconds(pair: Pair, x: torch.Tensor, k: int, n_chunk: int, k_chunk: int) -> float:
    """Seconds for log p-hat(x) of every example of x with K = ``k``, written directly in PyTorch, in chunks of
    ``n_chunk`` examples x ``k_chunk`` particles (what ppl_vae's estimator computes, without Pyro or k-hat)."""
    model, guide = pair.model, pair.guide
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(x), n_chunk):
            xs = x[i : i + n_chunk].flatten(1)
            log_w = []
            for j in range(0, k, k_chunk):
                loc, raw = guide.encoder(xs).chunk(2, dim=-1)
                scale = guide.min_scale + F.softplus(raw)
                eps = torch.randn(min(k_chunk, k - j), *loc.shape)
                z = loc + scale * eps
                log_q = (-0.5 * eps**2 - scale.log() - LOG_SQRT_2PI).sum(-1)
                log_p_z = (-0.5 * z**2 - LOG_SQRT_2PI).sum(-1)
                logits = model.decoder(z).flatten(2)
                log_p_x = torch.einsum("...d,...d->...", xs, logits) - F.softplus(logits).sum(-1)
                log_w.append(log_p_x + log_p_z - log_q)
            torch.logsumexp(torch.cat(log_w), 0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pyro-examples", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="a few examples on random data, to check the script runs")
    args = parser.parse_args()
    if args.tiny:
        args.examples, args.iw_samples, args.pyro_examples = 4, 30, 2
    torch.set_num_threads(args.threads)
    data, source = binarized_mnist_or_random(random=args.tiny, size=100)
    x = data.test.x[: args.examples]
    n, k = x.shape[0], args.iw_samples
    pair = benchmark_pair("mlp", 0, torch.device("cpu"))
    model, guide = pair.model, pair.guide
    print(f"data: {source}; N = {n} test images, K = {k}, {args.threads} thread(s)")

    n_chunk, k_chunk = chunk_sizes(n, k, 784, DEFAULT_MAX_ELEMENTS)
    flops = matmul_flops_per_second(n_chunk * k_chunk)
    decoder_macs = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
    encoder_macs = 784 * 200 + 200 * 200 + 200 * 100
    chunks_per_example = math.ceil(k / k_chunk)
    bound = 2 * (n * k * decoder_macs + n * chunks_per_example * encoder_macs) / flops
    importance_weighted_log_likelihood(pair, x[:2], num_samples=max(k, 25))  # warm-up: imports, first calls
    start = time.perf_counter()
    importance_weighted_log_likelihood(pair, x, num_samples=k)
    ours = time.perf_counter() - start

    hand = hand_written_seconds(pair, x, k, n_chunk, k_chunk)

    probe = x[: args.pyro_examples]
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(probe.shape[0]):
            vectorized_importance_weights(model, guide, probe[i : i + 1], num_samples=k, max_plate_nesting=1)
    pyro_route = (time.perf_counter() - start) / probe.shape[0] * n

    print(f"matrix-multiply throughput: {flops / 1e9:.1f} GFLOP/s at {n_chunk * k_chunk} rows")
    print(f"arithmetic lower bound: {bound:.1f} s")
    print(f"hand-written PyTorch:   {hand:.1f} s  ({hand / bound:.2f}x the bound)")
    print(f"ppl_vae estimator:      {ours:.1f} s  ({ours / bound:.2f}x the bound, {ours / hand:.2f}x hand-written)")
    print(
        f"Pyro route (per-example vectorized_importance_weights, {probe.shape[0]} timed, scaled to N): "
        f"{pyro_route:.1f} s  (ppl_vae is {pyro_route / ours:.1f}x faster)"
    )
    print(f"projected for 10,000 images: {ours * 10000 / n / 60:.1f} min (target <= 5 min)")


if __name__ == "__main__":
    sys.exit(main())
