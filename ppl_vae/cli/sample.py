"""``ppl-vae sample RUN_DIR [--num-samples N] [--label Y] [--seed S] [--output FILE] [--yes]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_device

HELP = (
    "write a grid of samples of a trained run (label-conditioned: one row per class, or --label; "
    "structured-output: completions of test inputs)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--num-samples", type=int, help="samples (default 48), per class (12) or per test input (5)")
    parser.add_argument("--label", type=int, help="draw only this class (label-conditioned models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", help="PNG path (default RUN_DIR/samples[-labelY]-seedS.png; for vector data, an .npz of draws)"
    )
    parser.add_argument("--yes", action="store_true", help="draw even when the estimate exceeds 5 minutes")
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.sample import sample

    output, what = sample(args.run_dir, args.num_samples, args.label, args.seed, args.output, args.yes, args.device)
    print(f"wrote {output}: {what}")
