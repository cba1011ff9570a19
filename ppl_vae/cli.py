"""The ``ppl-vae`` command: train, resume, sample, evaluate, check, classify, and list what is registered."""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
from pathlib import Path

import torch

from ppl_vae.checkpoint import CheckpointError
from ppl_vae.config import ConfigError, load_experiment, load_plugins, shipped_experiments
from ppl_vae.data import DataError, DataNotFoundError, check_labels, scored_data
from ppl_vae.pairing import PairingError
from ppl_vae.registry import DATASETS, GUIDES, MODELS, UnknownNameError
from ppl_vae.run import RunError, load_trained, resume, train_experiment
from ppl_vae.train import TrainingDiverged

USER_ERRORS = (
    ConfigError,
    DataError,
    DataNotFoundError,
    PairingError,
    CheckpointError,
    RunError,
    UnknownNameError,
    TrainingDiverged,
)


def cmd_train(args: argparse.Namespace) -> None:
    if args.resume:
        if args.experiment or args.set or args.run_dir:
            raise ConfigError(
                "--resume continues a run as it was configured; it takes no experiment, --set or --run-dir"
            )
        run_dir = resume(Path(args.resume))
    else:
        experiment = load_experiment(args.experiment, args.set)
        print(
            f"experiment '{experiment.name}': data {experiment.sections['data']['name']}, "
            f"model {experiment.sections['model']['name']}, guide {experiment.sections['guide']['name']}"
        )
        run_dir = train_experiment(experiment, args.run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"data: {summary['data']}")
    iw = summary.pop("test_importance_weighted")
    classification = summary.pop("classification", None)
    print_table(summary, skip=("data",))
    print(f"test split, importance-weighted with K = {iw['iw_samples']}:")
    print_table(iw, skip=("kl_per_dim",))
    if classification:
        print_classification(classification)
    print(f"run directory: {run_dir}")


def print_classification(summary: dict) -> None:
    print(f"Bayes-rule classifier on the {summary['split']} split, K = {summary['iw_samples']} per class:")
    print_table(summary, skip=("split", "iw_samples", "confusion_matrix", "class_prior"))
    print("  confusion matrix (rows: true class, columns: predicted):")
    for row in summary["confusion_matrix"]:
        print("    " + " ".join(f"{count:4d}" for count in row))


def cmd_sample(args: argparse.Namespace) -> None:
    from ppl_vae.evaluate import frozen
    from ppl_vae.plots import plot_image_rows
    from ppl_vae.predictive import prior_predictive
    from ppl_vae.run import load_run_data, plot_class_samples, plot_completions

    require_positive(args.num_samples, "--num-samples")
    run = load_trained(Path(args.run_dir))
    conditioning = getattr(run.model, "conditioning", None)
    if args.label is not None and conditioning != "labels":
        raise ConfigError(f"--label needs a label-conditioned model; {run.directory} has none")
    output = Path(args.output) if args.output else run.directory / "samples.png"
    if conditioning == "input":
        data = load_run_data(run)
        test = data.test
        count = min(12, len(test))
        plot_completions(run.model, data, test.x[:count], test.y[:count], args.num_samples or 5, args.seed, output)
    elif conditioning == "labels" and args.label is None:
        plot_class_samples(run.model, run.image_shape, args.num_samples or 12, args.seed, output)
    else:
        n = args.num_samples or 48
        labels = None if args.label is None else torch.full((n,), args.label, dtype=torch.int64)
        if labels is not None:
            check_labels(labels, run.model.num_classes, what="--label")
        with frozen(args.seed):
            means = prior_predictive(run.model, n, labels)[1].mean[0]
        given = "" if labels is None else f", y = {args.label}"
        plot_image_rows(
            [(f"{n} prior samples (mean of p(x|z{given}), z ~ p(z)), seed {args.seed}", means)],
            run.image_shape,
            min(12, n),
            output,
        )
    print(f"wrote {output}")


def require_positive(value: int | None, flag: str) -> None:
    """A ConfigError unless the option ``flag`` is unset (None) or at least 1."""
    if value is not None and value < 1:
        raise ConfigError(f"{flag} must be at least 1, got {value}")


def trained_run_and_split(args: argparse.Namespace):
    """(trained run, its dataset, x, y) of ``args.split``, cut to ``args.limit`` examples if given."""
    from ppl_vae.run import load_run_data

    require_positive(args.limit, "--limit")
    run = load_trained(Path(args.run_dir))
    data = load_run_data(run)
    split = data.split(args.split)
    x, y = split.x[: args.limit], None if split.y is None else split.y[: args.limit]
    return run, data, x, y


def cmd_evaluate(args: argparse.Namespace) -> None:
    import time

    from ppl_vae.evaluate import importance_weighted_log_likelihood, khat_warning, likelihood_summary
    from ppl_vae.run import write_text

    require_positive(args.iw_samples, "--iw-samples")
    run, data, x, y = trained_run_and_split(args)
    print(f"evaluating {run.directory} on {len(x)} {args.split} examples of {data.description}, K = {args.iw_samples}")
    start = time.perf_counter()
    estimate = importance_weighted_log_likelihood(
        run.model,
        run.guide,
        x,
        y,
        args.iw_samples,
        seed=args.seed,
        max_plate_nesting=run.max_plate_nesting,
        progress=True,
    )
    summary = {
        "run": str(run.directory),
        "split": args.split,
        "data": data.description,
        **likelihood_summary(estimate, scored_data(run.model, x, y).shape[1]),
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_text(run.directory / "evaluation.json", json.dumps(summary, indent=2) + "\n")
    print_table(summary, skip=("run", "data", "split", "kl_per_dim"))
    warning = khat_warning(summary)
    if warning:
        print(warning)
    print(f"wrote {run.directory / 'evaluation.json'}")


def cmd_ppc(args: argparse.Namespace) -> None:
    import time

    from ppl_vae.ppc import format_table, posterior_predictive_check, write_check
    from ppl_vae.registry import STATISTICS

    require_positive(args.num_samples, "--num-samples")
    chosen = {name: STATISTICS.get(name) for name in args.statistic} if args.statistic else STATISTICS.entries()
    run, data, x, y = trained_run_and_split(args)
    if getattr(run.model, "conditioning", None) == "input":
        raise RunError(f"{run.directory} predicts outputs y, not images x: posterior predictive checks do not apply")
    print(f"posterior predictive check of {run.directory}: {len(x)} {args.split} examples, S = {args.num_samples}")
    start = time.perf_counter()
    check = posterior_predictive_check(
        run.model, run.guide, x, y, args.num_samples, chosen, run.image_shape, seed=args.seed
    )
    seconds = time.perf_counter() - start
    summary = write_check(
        check,
        run.directory,
        {"split": args.split, "num_examples": len(x), "num_samples": args.num_samples, "seconds": round(seconds, 2)},
    )
    print("\n".join(format_table(summary["statistics"])))
    print(f"{seconds:.1f} s; wrote ppc.nc, ppc.json and figures to {run.directory}")


def cmd_classify(args: argparse.Namespace) -> None:
    from ppl_vae.run import write_classification

    require_positive(args.iw_samples, "--iw-samples")
    run, data, x, y = trained_run_and_split(args)
    if getattr(run.model, "conditioning", None) != "labels":
        raise RunError(f"{run.directory} is not a label-conditioned model: it cannot classify by Bayes' rule")
    summary = write_classification(
        run.model, run.guide, x, y, data, args.split, args.iw_samples, args.seed, run.max_plate_nesting, run.directory
    )
    print_classification(summary)
    print(f"wrote classification.json and classification.png to {run.directory}")


def print_table(summary: dict, skip: tuple[str, ...] = ()) -> None:
    width = max(map(len, summary))
    for key, value in summary.items():
        if key in skip:
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"  {key:<{width}}  {shown}")


def cmd_list(args: argparse.Namespace) -> None:
    if args.experiment:
        load_plugins(load_experiment(args.experiment))
    for title, names in (
        ("models", MODELS.names()),
        ("guides", GUIDES.names()),
        ("datasets", DATASETS.names()),
        ("experiments", shipped_experiments()),
    ):
        print(f"{title}: {', '.join(names)}")


def add_split_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """RUN_DIR, --split, --limit and --seed: what a command that reads a run's data takes."""
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--limit", type=int, help=f"{verb} only the first N examples of the split")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppl-vae", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an experiment into a run directory")
    train.add_argument(
        "experiment", nargs="?", help="experiment file or shipped name (default: the default experiment)"
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one key, value as TOML (repeatable)",
    )
    train.add_argument("--run-dir", help="where to write the run (default runs/NAME-TIMESTAMP)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.set_defaults(handler=cmd_train)

    sample = commands.add_parser(
        "sample",
        help="write a grid of samples of a trained run (label-conditioned: one row per class, or --label; "
        "structured-output: completions of test inputs)",
    )
    sample.add_argument("run_dir")
    sample.add_argument("--num-samples", type=int, help="samples (default 48), per class (12) or per test input (5)")
    sample.add_argument("--label", type=int, help="draw only this class (label-conditioned models)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--output", help="PNG path (default RUN_DIR/samples.png)")
    sample.set_defaults(handler=cmd_sample)

    evaluate = commands.add_parser("evaluate", help="importance-weighted log-likelihood of a trained run")
    evaluate.add_argument("--iw-samples", type=int, default=5000, help="K, importance samples per example")
    add_split_arguments(evaluate, "evaluate")
    evaluate.set_defaults(handler=cmd_evaluate)

    ppc = commands.add_parser("ppc", help="posterior predictive checks of a trained run (ArviZ)")
    ppc.add_argument("--num-samples", type=int, default=100, help="S, replicated draws per data point")
    ppc.add_argument("--statistic", action="append", default=[], help="a statistic name (repeatable; default all)")
    add_split_arguments(ppc, "check")
    ppc.set_defaults(handler=cmd_ppc)

    classify = commands.add_parser(
        "classify", help="Bayes-rule classifier p(y | x) from a label-conditioned run, with a confusion matrix"
    )
    classify.add_argument("--iw-samples", type=int, default=100, help="K, importance samples per example and class")
    add_split_arguments(classify, "classify")
    classify.set_defaults(handler=cmd_classify)

    listing = commands.add_parser("list", help="registered models, guides, datasets and shipped experiments")
    listing.add_argument("experiment", nargs="?", help="also load this experiment's plugins")
    listing.set_defaults(handler=cmd_list)
    return parser


def limit_heap_growth() -> None:
    """Keep glibc from growing the heap with freed batch buffers (Linux only; no-op elsewhere).

    Evaluation allocates and frees tensors of a few to tens of MB per batch. glibc raises its
    mmap threshold after each such free, so later buffers come from the heap, which then
    fragments: peak memory of a 10,000-image predictive check fell from 12 GB to under 1 GB
    when the threshold was fixed at 64 KiB (measured with experiments/benchmarks' data).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limit_heap_growth()
    try:
        args.handler(args)
    except USER_ERRORS as error:
        print(f"ppl-vae: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "ppl-vae: interrupted; the last finished epoch is in the run's checkpoint "
            "(continue with ppl-vae train --resume RUN_DIR)",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
