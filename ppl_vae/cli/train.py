"""``ppl-vae train [EXPERIMENT] [--set SECTION.KEY=VALUE ...] [--run-dir DIR] [--resume RUN_DIR]``."""

from __future__ import annotations

import argparse
import json

from ppl_vae.cli.common import add_device, print_classification, print_table

HELP = "train an experiment into a run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "experiment", nargs="?", help="experiment file or shipped name (default: the default experiment)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one key, value as TOML"
    )
    parser.add_argument("--run-dir", help="where to write the run (default runs/NAME-TIMESTAMP)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.train import train
    from ppl_vae.core.config import load_experiment
    from ppl_vae.train.distributed import end_helper_rank, world_from_environment

    world = world_from_environment()
    if args.resume:
        run_dir = train(args.experiment, args.set, args.run_dir, args.resume, args.device, world)
    else:
        experiment = load_experiment(args.experiment, args.set)
        sections = experiment.sections
        if world.main:
            print(
                f"experiment '{experiment.name}': data {sections['data']['name']}, model {sections['model']['name']}, "
                f"guide {sections['guide']['name']}" + (f", {world.size} processes" if world.active else "")
            )
        run_dir = train(experiment, [], args.run_dir, None, args.device, world)
    if not world.main:
        end_helper_rank()
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"data: {summary['data']}")
    iw = summary.pop("test_importance_weighted", None)
    classification = summary.pop("classification", None)
    print_table(summary, skip=("data",))
    if iw is not None:
        print(f"test split, importance-weighted with K = {iw['iw_samples']}:")
        print_table(iw, skip=("kl_per_dim",))
    if classification:
        print_classification(classification)
    print(f"run directory: {run_dir}")
