"""``ppl-vae probe RUN_DIR [--labels 100 1000 all] [--draws N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_device

HELP = "accuracy of a linear classifier on the codes with few labels, beside raw values and PCA"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--labels", nargs="+", default=["100", "1000", "all"], help="numbers of labels, or 'all'")
    parser.add_argument("--draws", type=int, default=5, help="label draws per number of labels")
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.probe import label_counts, probe

    counts = label_counts(args.labels)
    summary, path = probe(args.run_dir, counts, args.draws, args.seed, args.device)
    print(
        f"test accuracy of a logistic regression with n labels (mean ± std over {args.draws} draws; "
        f"chance {summary['chance_accuracy']:.3f}):"
    )
    print(f"  {'features':<10}" + "".join(f"{str(c):>18}" for c in counts))
    for kind, rows in summary["accuracy"].items():
        print(f"  {kind:<10}" + "".join(f"{rows[str(c)]['mean']:>11.4f} ± {rows[str(c)]['std']:.3f}" for c in counts))
    print(f"wrote {path}")
