"""``ppl-vae sbc RUN_DIR [--simulations M] [--draws L] [--proposals K] [--seed S] [--yes]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_device

HELP = "simulation-based calibration of a trained run's guide q(z | x)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--simulations", type=int, default=1000, help="M, draws (z*, x) of the model")
    parser.add_argument("--draws", type=int, default=100, help="L, draws of q(z | x) per simulation")
    parser.add_argument("--proposals", type=int, default=1000, help="K, proposals of the resampled posterior (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--yes", action="store_true", help="go on even when the estimate exceeds an hour")
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.sbc import sbc
    from ppl_vae.evaluation.sbc import format_table

    summary, _, written = sbc(
        args.run_dir, args.simulations, args.draws, args.proposals, args.seed, args.yes, args.device
    )
    print(
        f"simulation-based calibration: M = {args.simulations} simulations, L = {args.draws} draws, "
        f"K = {args.proposals} proposals"
    )
    print("\n".join(format_table(summary)))
    if summary["khat_above_0.7_share"] is not None:
        print(
            f"  Pareto k-hat > 0.7 for {100 * summary['khat_above_0.7_share']:.1f}% of the simulations' weights "
            f"(median {summary['khat_median']:.2f}): the resampled posterior is trusted only where k-hat is low"
        )
    print(
        "  p: the smallest per-coordinate p-value of the rank uniformity test times the coordinates (Bonferroni);"
        " columns 0.5 .. 0.99: coverage of central intervals of those levels"
    )
    print(f"{summary['seconds']:.1f} s; wrote {', '.join(p.name for p in written)} to {written[0].parent}")
