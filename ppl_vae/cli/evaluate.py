"""``ppl-vae evaluate RUN_DIR [--iw-samples K] [--split S] [--limit N] [--seed S]``."""

from __future__ import annotations

import argparse

from ppl_vae.cli.common import add_split_arguments, print_table

HELP = "importance-weighted log-likelihood of a trained run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iw-samples", type=int, default=5000, help="K, importance samples per example")
    add_split_arguments(parser, "evaluate")


def run(args: argparse.Namespace) -> None:
    from ppl_vae.commands.evaluate import evaluate
    from ppl_vae.evaluation.likelihood import khat_warning
    from ppl_vae.runs.trained import load_trained

    trained = load_trained(args.run_dir, args.device)
    exact = not trained.pair.model_contract.latent
    how = "exactly (the model has no latent variables; K is not used)" if exact else f"with K = {args.iw_samples}"
    print(f"evaluating {trained.directory} on its {args.split} split, {how}")
    summary, path = evaluate(trained, args.iw_samples, args.split, args.limit, args.seed, progress=True)
    print(f"{summary['examples']} of {summary['data']}:")
    print_table(summary, skip=("run", "data", "split", "examples", "kl_per_dim"))
    warning = khat_warning(summary)
    if warning:
        print(warning)
    print(f"wrote {path}")
