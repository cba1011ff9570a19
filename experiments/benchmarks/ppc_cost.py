"""Time and memory of a posterior predictive check: N test images x S draws, as ``ppl-vae ppc`` runs it.

The 784-200-200-50 pair on binarized MNIST's test split (random binary images of the same shape
when ../shared/data is absent); the weights do not change the cost, so the pair is untrained.
Prints, for the draws and statistics (``posterior_predictive_check``) and for writing the files
(``write_check``: ArviZ netCDF, JSON, figures): wall, user and system seconds, and the process's
resident memory before the check and at its peak (``getrusage``; Linux reports kilobytes).
Targets on 2 free cores: 10,000 images x 100 draws in < 60 s and < 1 GB.

    python experiments/benchmarks/ppc_cost.py [--examples 10000] [--draws 100] [--threads 2]
    python experiments/benchmarks/ppc_cost.py --tiny     # 200 images x 5 draws of random data (the test suite)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import torch
from _common import benchmark_pair, binarized_mnist_or_random

from ppl_vae.evaluation.ppc import posterior_predictive_check
from ppl_vae.report.ppc import write_check


def resident_megabytes() -> float:
    """The process's current resident set, MB (from /proc; 0 where it is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def peak_megabytes() -> float:
    """The process's peak resident set so far, MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def timed(action):
    """``action()``, with its wall, user and system seconds."""
    before, start = os.times(), time.perf_counter()
    result = action()
    after = os.times()
    return result, time.perf_counter() - start, after.user - before.user, after.system - before.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="200 images x 5 draws of random data")
    args = parser.parse_args()
    if args.tiny:
        args.examples, args.draws = 200, 5
    torch.set_num_threads(args.threads)
    data, source = binarized_mnist_or_random(random=args.tiny)
    x = data.test.x[: args.examples].float()
    pair = benchmark_pair("mlp", 0, torch.device("cpu")).eval()
    resident = resident_megabytes()
    print(
        f"data: {source}; {len(x)} test images x {args.draws} draws, {args.threads} thread(s); "
        f"resident before the check {resident:.0f} MB"
    )
    check, wall, user, system = timed(
        lambda: posterior_predictive_check(pair, x, num_samples=args.draws, image_shape=(1, 28, 28))
    )
    print(
        f"draws and statistics: {wall:.1f} s wall, {user:.1f} s user, {system:.1f} s system; "
        f"peak resident {peak_megabytes():.0f} MB"
    )
    with tempfile.TemporaryDirectory() as folder:
        _, wall_files, user, system = timed(lambda: write_check(check, folder))
    print(
        f"files (netCDF, JSON, figures): {wall_files:.1f} s wall, {user:.1f} s user, {system:.1f} s system; "
        f"peak resident {peak_megabytes():.0f} MB"
    )
    print(f"whole check: {wall + wall_files:.1f} s (target < 60 s), peak {peak_megabytes():.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    sys.exit(main())
