"""``ppl-vae classify RUN_DIR [--iw-samples K] [--split S] [--limit N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_split_arguments, print_classification

HELP = "Bayes-rule classifier p(y | x) from a label-conditioned run, with a confusion matrix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iw-samples", type=int, default=100, help="K, importance samples per example and class")
    add_split_arguments(parser, "classify")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.classify import classify

    summary, stem = classify(args.run_dir, args.iw_samples, args.split, args.limit, args.seed, args.device)
    print_classification(summary)
    print(f"wrote {stem}.json and {stem}.png to {args.run_dir}")
