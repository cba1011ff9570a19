"""``ppl-vae list [EXPERIMENT]``: every registered name by kind, and the shipped experiments."""

from __future__ import annotations

import argparse

HELP = "registered models, guides, likelihoods, networks, datasets, objectives... and shipped experiments"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", nargs="?", help="also load this experiment's plugins")
    parser.add_argument("--modules", action="store_true", help="say which module defines each name")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.listing import listing

    for kind, names in listing(args.experiment).items():
        shown = [f"{name} ({module})" for name, module in names.items()] if args.modules else list(names)
        print(f"{kind}: {', '.join(shown)}")
