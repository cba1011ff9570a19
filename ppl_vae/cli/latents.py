"""``ppl-vae latents RUN_DIR [RUN_DIR2] [--dims I J] [--steps N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_device, print_table

HELP = "codes by class, the three problems of a latent space, manifold, traversals, interpolations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("other", nargs="?", help="a second run, shown beside the first and measured with it")
    parser.add_argument("--dims", type=int, nargs=2, metavar=("I", "J"), help="latent dimensions of the manifold grid")
    parser.add_argument("--steps", type=int, default=10, help="points per side of the grid and per traversal")
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.latents import latents

    views = latents(args.run_dir, args.other, args.dims, args.steps, args.seed, args.device)
    for directory, measures in views.measures.items():
        print(f"{directory}:")
        print_table(measures, skip=("class_log_det", "note"))
    for note in views.notes:
        print(note)
    print(f"wrote {', '.join(views.files)} to {args.run_dir}")
