"""``ppl-vae ppc RUN_DIR [--num-samples S] [--statistic NAME ...] [--split S] [--limit N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_split_arguments

HELP = "posterior (or, with --prior, prior) predictive checks of a trained run (ArviZ)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-samples", type=int, default=100, help="S, replicated draws per data point")
    parser.add_argument("--statistic", action="append", default=[], help="a statistic name (repeatable; default all)")
    parser.add_argument(
        "--prior", action="store_true", help="the prior predictive check: draws of p(x), not the posterior"
    )
    add_split_arguments(parser, "check")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.ppc import ppc
    from ppl_vae.evaluation.ppc import format_table

    summary, check, written = ppc(
        args.run_dir,
        args.num_samples,
        args.statistic or None,
        args.split,
        args.limit,
        args.seed,
        args.device,
        args.prior,
    )
    print(f"{'prior' if args.prior else 'posterior'} predictive check: {summary['examples']}, S = {args.num_samples}")
    if check.note:
        print(check.note)
    print("\n".join(format_table(summary["statistics"])))
    print(f"{summary['seconds']:.1f} s; wrote {', '.join(p.name for p in written)} to {written[0].parent}")
