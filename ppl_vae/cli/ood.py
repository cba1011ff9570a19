"""``ppl-vae ood RUN_DIR --outliers DATASET_OR_NPY [--iw-samples K] [--typicality-batch B] [--split S] [--limit N]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_split_arguments

HELP = "reject inputs by their density: outlier scores of a run's inputs against an outlier set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outliers", required=True, help="a registered dataset, or a .npy/.npz file of images")
    parser.add_argument("--iw-samples", type=int, default=100, help="K, importance samples per example (latent models)")
    parser.add_argument("--typicality-batch", type=int, default=10, help="inputs per batch of the typicality test")
    add_split_arguments(parser, "score")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.ood import ood

    summary, stem = ood(
        args.run_dir, args.outliers, args.split, args.iw_samples, args.limit, args.seed, args.typicality_batch,
        args.device,
    )
    print(f"{summary['in_distribution']} against {summary['outliers']}:")
    print(f"  {'score':<24} {'AUROC':>7} {'AUPR-out':>9} {'FPR@95':>7}")
    rows = {**summary["scores"], **{k: summary[k] for k in ("typicality", "bayes_reject") if k in summary}}
    for name, row in rows.items():
        print(f"  {name:<24} {row['auroc']:>7.4f} {row['aupr_out']:>9.4f} {row['fpr_at_95_tpr']:>7.4f}")
    print(f"wrote {stem}.json, {stem}.npz, {stem}_roc.png and {stem}_scores.png to {args.run_dir}")
