"""``ppl-vae gaps RUN_DIR [--iw-samples K] [--max-steps N] [--learning-rate R] [--split S] [--limit N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_split_arguments

HELP = "approximation and amortization gaps of a trained run's guide (Cremer et al. 2018)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iw-samples", type=int, default=1000, help="K, draws of q and of q* per example")
    parser.add_argument("--max-steps", type=int, default=3000, help="most optimization steps per batch of examples")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="Adam's, for q*'s parameters")
    parser.add_argument("--yes", action="store_true", help="go on even when the estimate exceeds an hour")
    add_split_arguments(parser, "measure")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.gaps import gaps

    summary, _, written = gaps(
        args.run_dir,
        args.iw_samples,
        args.split,
        args.limit,
        args.seed,
        args.max_steps,
        args.learning_rate,
        args.yes,
        args.device,
    )
    print(
        f"inference gaps of {summary['examples']} ({summary['guide']}), K = {summary['iw_samples']}, nats per example:"
    )
    for key in ("log_likelihood", "elbo", "optimized_elbo", "inference_gap", "approximation_gap", "amortization_gap"):
        mean, error = summary[f"{key}_nats"]
        print(f"  {key:<20} {mean:>10.3f} +- {error:.3f}")
    dominant = "amortization" if summary["amortization_dominates"] else "approximation"
    print(
        f"  the {dominant} gap dominates ({100 * summary['amortization_share']:.0f}% of the inference gap is "
        f"amortization); {100 * summary['unconverged_share']:.0f}% of examples reached --max-steps"
    )
    print(f"{summary['seconds']:.1f} s; wrote {', '.join(p.name for p in written)} to {written[0].parent}")
