"""What the command modules share: common arguments, and printing a table of figures."""

from __future__ import annotations

import argparse


def print_table(summary: dict, skip: tuple[str, ...] = ()) -> None:
    """``key  value`` lines, floats with 4 decimals, skipping the keys in ``skip`` and empty tables."""
    width = max(map(len, summary))
    for key, value in summary.items():
        if key in skip or value == {}:
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"  {key:<{width}}  {shown}")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: training.device; auto for runs)")


def add_split_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """RUN_DIR, --split, --limit, --seed and --device: what a command that reads a run's data takes."""
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--limit", type=int, help=f"{verb} a random N examples of the split (drawn with --seed)")
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)


def print_classification(summary: dict) -> None:
    print(f"Bayes-rule classifier on the {summary['split']} split, K = {summary['iw_samples']} per class:")
    print_table(summary, skip=("split", "iw_samples", "confusion_matrix", "class_prior", "classifier_confusion_matrix"))
    print("  confusion matrix (rows: true class, columns: predicted):")
    for row in summary["confusion_matrix"]:
        print("    " + " ".join(f"{count:4d}" for count in row))
