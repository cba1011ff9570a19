"""Samples per second of data-parallel training: 1 process against N (torchrun), same global batch.

Each configuration runs in fresh processes: ``torchrun --standalone --nproc_per_node=N`` starts this
script's worker, which trains one epoch of ppl_vae's own :class:`~ppl_vae.train.trainer.Trainer` (Trace_ELBO,
gradients all-reduced over the ranks, ``ppl_vae.train.distributed``) over ``steps`` global batches, validation
excluded, and rank 0 prints the seconds between two collective barriers. On the CPU every process gets
``--threads`` threads (gloo; N = 2 by default, the target there is >= 1.7x on 2 free cores with the
conv VAE); with CUDA GPUs N is the number of GPUs (NCCL, one GPU per process) and the baseline is one GPU.

    python experiments/benchmarks/scaling.py [--network conv] [--steps 100] [--batch-size 100] [--processes 2]
    python experiments/benchmarks/scaling.py --tiny     # a few MLP steps on random data (the test suite)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from _common import NETWORKS, benchmark_pair, binarized_mnist_or_random

from ppl_vae.core.config import TrainingConfig
from ppl_vae.data import Split
from ppl_vae.train.distributed import connect, leave, world_from_environment
from ppl_vae.train.trainer import Trainer

RESULT = "scaling-result "


def worker(args: argparse.Namespace) -> None:
    """One rank: train one epoch of ``args.steps`` global batches, then rank 0 prints its seconds."""
    world = world_from_environment()
    torch.set_num_threads(args.threads)
    device, _ = connect(world, args.device, "auto")
    data, source = binarized_mnist_or_random(random=args.tiny)
    n = min(len(data.train), args.steps * args.batch_size)
    data = data.with_splits({"train": Split(data.train.x[:n]), "valid": Split(data.valid.x[:100])})
    data = data.with_splits({name: split.to(device, torch.float32) for name, split in data.splits().items()})
    pair = benchmark_pair(args.network, 0, device)
    pair.check(data.valid.x[:8])
    trainer = Trainer(pair, data, TrainingConfig(batch_size=args.batch_size, epochs=1), verbose=False, world=world)
    trainer.validation_bound = lambda: 0.0  # time the training steps only
    world.all_sum(0.0)
    start = time.perf_counter()
    trainer.fit()
    world.all_sum(0.0)
    seconds = time.perf_counter() - start
    if world.main:
        print(RESULT + json.dumps({"seconds": seconds, "examples": n, "device": str(device), "data": source}))
    leave(world)


def run(args: argparse.Namespace, processes: int) -> dict:
    """Start ``processes`` workers (torchrun when more than one) and return rank 0's result."""
    command = [sys.executable]
    if processes > 1:
        command += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command += [__file__, "--worker", "--network", args.network, "--steps", str(args.steps)]
    command += ["--batch-size", str(args.batch_size), "--threads", str(args.threads), "--device", args.device]
    command += ["--tiny"] if args.tiny else []
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        raise SystemExit(f"the {processes}-process run failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[0][len(RESULT) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="conv", choices=list(NETWORKS))
    parser.add_argument("--steps", type=int, default=100, help="global batches timed")
    parser.add_argument("--batch-size", type=int, default=100, help="the global batch, over all processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--processes", type=int, default=0, help="N (default: the GPUs, else 2)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per configuration")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="a few MLP steps on random data")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tiny:
        args.network, args.steps, args.batch_size, args.repeats = "mlp", 4, 10, 1
    if args.worker:
        worker(args)
        return
    gpus = torch.cuda.device_count() if args.device in ("auto", "cuda") else 0
    processes = args.processes or (gpus if gpus > 1 else 2)
    results = {}
    for count in (1, processes):
        runs = [run(args, count) for _ in range(args.repeats)]
        results[count] = min(runs, key=lambda r: r["seconds"])
    first = results[1]
    print(
        f"data: {first['data']}; {args.network} VAE, {args.steps} global batches of {args.batch_size}, "
        f"device {first['device']}, {args.threads} thread(s) per process, best of {args.repeats}"
    )
    for count, result in results.items():
        rate = result["examples"] / result["seconds"]
        speedup = first["seconds"] / result["seconds"]
        print(f"{count} process(es): {result['seconds']:.2f} s, {rate:.0f} examples/s, {speedup:.2f}x one process")


if __name__ == "__main__":
    sys.exit(main())
