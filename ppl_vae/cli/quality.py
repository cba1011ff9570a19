"""``ppl-vae quality RUN_DIR [--samples N] [--permutations P] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_device, print_table

HELP = (
    "sample quality (Fréchet and kernel distances, precision and recall in the features of a small classifier of "
    "the real images; not Inception FIDs) and the aggregate posterior's distance from the prior (MMD, permutation "
    "p-value, the codes' spread per latent)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--samples", type=int, default=2000, help="model samples, real images and codes compared")
    parser.add_argument("--permutations", type=int, default=200, help="of the MMD permutation test")
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.quality import quality

    result, path = quality(args.run_dir, args.samples, args.permutations, args.seed, args.device)
    for key in ("sample_quality", "aggregate_posterior_mmd"):
        if result[key] is not None:
            print(f"{key}:")
            print_table(result[key])
    if result["code_scale_ratio"] is not None:
        print("code_scale_ratio (codes' standard deviation over the prior's, per latent):")
        print("  " + " ".join(f"{ratio:.2f}" for ratio in result["code_scale_ratio"]))
    for note in result["notes"]:
        print(note)
    print(f"wrote {path}")
