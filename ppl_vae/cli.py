"""The ``ppl-vae`` command: train, resume, sample, evaluate, check, classify, measure, and list what is registered.

Heavy libraries (torch, Pyro, ArviZ, scikit-learn) load inside the commands that use them, so
``ppl-vae --help`` and ``ppl-vae list`` start fast. Every user error is one line,
``ppl-vae: error: <sentence>``; an error raised in a user's plugin is followed by its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from ppl_vae.errors import ConfigError, PluginError, RunError, UserError


def require_positive(value: int | None, flag: str) -> None:
    """A ConfigError unless the option ``flag`` is unset (None) or at least 1."""
    if value is not None and value < 1:
        raise ConfigError(f"{flag} must be at least 1, got {value}")


def print_table(summary: dict, skip: tuple[str, ...] = ()) -> None:
    width = max(map(len, summary))
    for key, value in summary.items():
        if key in skip:
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"  {key:<{width}}  {shown}")


def output_stem(kind: str, split: str, limit: int | None, seed: int, **params: int) -> str:
    """The name of a command's output that says what it is: ``evaluation-test-K5000``,
    ``classification-valid-random50-seed0-K100``. The files written at the end of training
    (``summary.json``, ``classification.json``, ``ppc.*``) are never replaced by these."""
    parts = [kind, split]
    if limit is not None:
        parts.append(f"random{limit}")
    if limit is not None or seed:
        parts.append(f"seed{seed}")
    parts += [f"{key}{value}" for key, value in params.items()]
    return "-".join(parts)


def cmd_train(args: argparse.Namespace) -> None:
    from ppl_vae.config import load_experiment
    from ppl_vae.distributed import end_helper_rank, leave, world_from_environment
    from ppl_vae.run import resume, train_experiment

    world = world_from_environment()
    try:
        if args.resume:
            if args.experiment or args.set or args.run_dir:
                raise ConfigError(
                    "--resume continues a run as it was configured; it takes no experiment, --set or --run-dir"
                )
            run_dir = resume(Path(args.resume), device=args.device, world=world)
        else:
            experiment = load_experiment(args.experiment, args.set)
            sections = experiment.sections
            if world.main:
                print(
                    f"experiment '{experiment.name}': data {sections['data']['name']}, "
                    f"model {sections['model']['name']}, guide {sections['guide']['name']}"
                    + (f", {world.size} processes" if world.active else "")
                )
            run_dir = train_experiment(experiment, args.run_dir, device=args.device, world=world)
    finally:
        leave(world)
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


def print_classification(summary: dict) -> None:
    print(f"Bayes-rule classifier on the {summary['split']} split, K = {summary['iw_samples']} per class:")
    print_table(summary, skip=("split", "iw_samples", "confusion_matrix", "class_prior"))
    print("  confusion matrix (rows: true class, columns: predicted):")
    for row in summary["confusion_matrix"]:
        print("    " + " ".join(f"{count:4d}" for count in row))


def writable_output(path: Path) -> Path:
    """``path`` if its folder exists and it is not a folder itself; else one sentence."""
    if path.is_dir():
        raise ConfigError(f"--output {path} is a folder; give a file name such as {path / 'samples.png'}")
    if not path.parent.is_dir():
        raise ConfigError(f"--output {path}: the folder {path.parent} does not exist")
    return path


def cmd_sample(args: argparse.Namespace) -> None:
    import ppl_vae.report_hooks  # noqa: F401  (registers the sample figures)
    from ppl_vae.contract import Conditioning
    from ppl_vae.data.checks import check_labels
    from ppl_vae.lock import RunLock
    from ppl_vae.report import SAMPLE_FIGURES
    from ppl_vae.report_hooks import SampleRequest
    from ppl_vae.run import load_trained

    require_positive(args.num_samples, "--num-samples")
    output = writable_output(Path(args.output)) if args.output else None
    run = load_trained(Path(args.run_dir), args.device)
    view = run.view
    if args.label is not None:
        if view.model.conditioning is not Conditioning.LABELS:
            raise ConfigError(f"--label needs a label-conditioned model; {run.directory} has none")
        import torch

        check_labels(torch.tensor([args.label]), view.num_classes, what="--label")
    chosen = SAMPLE_FIGURES.chosen(view)
    if not chosen:
        raise RunError(f"{run.directory} has no sample figure: its data are not images")
    name, draw = chosen[0]
    refuse_long_sampling(run, args.num_samples or DEFAULT_SAMPLES, args.label, args.yes)
    if output is None:
        label = "" if args.label is None else f"-label{args.label}"
        output = run.directory / f"samples{label}-seed{args.seed}.png"
        with RunLock(run.directory, "sample"):
            draw(run, SampleRequest(args.num_samples, args.label, args.seed, output))
    else:
        draw(run, SampleRequest(args.num_samples, args.label, args.seed, output))
    print(f"wrote {output} ({name.replace('_', ' ')})")


DEFAULT_SAMPLES = 48  # images of the default sample figure
SAMPLING_LIMIT_SECONDS = 300  # longer sample requests need --yes


def refuse_long_sampling(run, n: int, label: int | None, confirmed: bool) -> None:
    """A RunError when drawing ``n`` samples would take longer than :data:`SAMPLING_LIMIT_SECONDS` (an
    autoregressive model draws pixel by pixel) and the user has not confirmed with ``--yes``."""
    import torch

    from ppl_vae.predictive import sampling_seconds

    shape = tuple(run.info["shapes"]["x_shape"])
    labels = None if run.view.num_classes is None else torch.full((n,), label or 0, device=run.pair.device)
    estimate = sampling_seconds(run.pair, shape, n, labels)
    if estimate > SAMPLING_LIMIT_SECONDS and not confirmed:
        raise RunError(
            f"drawing {n} samples from {run.directory} would take about {estimate / 60:.1f} minutes (more than "
            f"{SAMPLING_LIMIT_SECONDS // 60}); add --yes to draw them anyway, or ask for fewer with --num-samples"
        )


def trained_run(args: argparse.Namespace):
    from ppl_vae.run import load_trained

    require_positive(args.limit, "--limit")
    return load_trained(Path(args.run_dir), args.device)


def split_of(run, args: argparse.Namespace):
    """(the run's dataset, x, y, phrase) of ``args.split``: all of it, or a seeded random ``args.limit``
    examples (the phrase says which)."""
    from ppl_vae.data.provenance import random_subset

    data = run.data()
    split, which = random_subset(data.split(args.split), args.limit, args.seed)
    return data, split.x, split.y, f"{which} {args.split} examples"


def cmd_evaluate(args: argparse.Namespace) -> None:
    from ppl_vae.evaluate import (
        importance_weighted_log_likelihood,
        khat_warning,
        likelihood_summary,
        refuse_non_density,
    )
    from ppl_vae.lock import RunLock
    from ppl_vae.report import write_json

    require_positive(args.iw_samples, "--iw-samples")
    run = trained_run(args)
    refuse_non_density(run.pair)
    data, x, y, which = split_of(run, args)
    exact = not run.pair.model_contract.latent
    k = 1 if exact else args.iw_samples
    how = "exactly (the model has no latent variables; K is not used)" if exact else f"with K = {k}"
    print(f"evaluating {run.directory} on {which} of {data.description}, {how}")
    stem = output_stem("evaluation", args.split, args.limit, args.seed, K=k)
    with RunLock(run.directory, "evaluate"):
        start = time.perf_counter()
        estimate = importance_weighted_log_likelihood(run.pair, x, y, k, seed=args.seed, progress=True)
        summary = {
            "run": str(run.directory),
            "split": args.split,
            "examples": which,
            "data": data.description,
            **likelihood_summary(estimate, run.pair.scored(x, y)[0].numel()),
            "seconds": round(time.perf_counter() - start, 2),
        }
        write_json(run.directory / f"{stem}.json", summary)
    print_table(summary, skip=("run", "data", "split", "examples", "kl_per_dim"))
    warning = khat_warning(summary)
    if warning:
        print(warning)
    print(f"wrote {run.directory / f'{stem}.json'}")


def cmd_ppc(args: argparse.Namespace) -> None:
    from ppl_vae.lock import RunLock
    from ppl_vae.ppc import format_table, posterior_predictive_check, write_check
    from ppl_vae.registry import STATISTICS

    require_positive(args.num_samples, "--num-samples")
    chosen = {name: STATISTICS.get(name) for name in args.statistic} if args.statistic else None
    run = trained_run(args)
    if not run.pair.model_contract.generates_images:
        raise RunError(
            f"{run.directory} predicts outputs y, not whole data points x: posterior predictive checks do not apply"
        )
    if not run.pair.model_contract.density:
        raise RunError(
            f"{run.directory} holds an implicit model (a generator without an encoder): it has no posterior to "
            "check; compare its samples with ppl-vae quality"
        )
    data, x, y, which = split_of(run, args)
    print(f"posterior predictive check of {run.directory}: {which}, S = {args.num_samples}")
    stem = output_stem("ppc", args.split, args.limit, args.seed, S=args.num_samples)
    with RunLock(run.directory, "ppc"):
        start = time.perf_counter()
        check = posterior_predictive_check(
            run.pair, x, y, args.num_samples, chosen, run.view.image_shape, seed=args.seed
        )
        seconds = time.perf_counter() - start
        extra = {"split": args.split, "examples": which, "num_samples": args.num_samples, "seconds": round(seconds, 2)}
        summary = write_check(check, run.directory, extra, stem)
    if check.note:
        print(check.note)
    print("\n".join(format_table(summary["statistics"])))
    print(f"{seconds:.1f} s; wrote {stem}.nc, {stem}.json and figures to {run.directory}")


def cmd_classify(args: argparse.Namespace) -> None:
    from ppl_vae.contract import Conditioning
    from ppl_vae.lock import RunLock
    from ppl_vae.report_hooks import write_classification

    require_positive(args.iw_samples, "--iw-samples")
    run = trained_run(args)
    if run.pair.model_contract.conditioning is not Conditioning.LABELS:
        raise RunError(f"{run.directory} is not a label-conditioned model: it cannot classify by Bayes' rule")
    data, x, y, which = split_of(run, args)
    stem = output_stem("classification", args.split, args.limit, args.seed, K=args.iw_samples)
    print(f"classifying {which}")
    with RunLock(run.directory, "classify"):
        summary = write_classification(
            run.pair, data, x, y, args.split, args.iw_samples, args.seed, run.directory, stem
        )
    print_classification(summary)
    print(f"wrote {stem}.json and {stem}.png to {run.directory}")


def cmd_latents(args: argparse.Namespace) -> None:
    from ppl_vae.latent_views import write_latent_views
    from ppl_vae.run import load_trained

    require_positive(args.steps, "--steps")
    runs = [load_trained(Path(d), args.device) for d in [args.run_dir, *([args.other] if args.other else [])]]
    views = write_latent_views(runs, args.dims, args.steps, args.seed)
    for directory, measures in views.measures.items():
        print(f"{directory}:")
        print_table(measures, skip=("class_log_det", "note"))
    for note in views.notes:
        print(note)
    print(f"wrote {', '.join(views.files)} to {runs[0].directory}")


def cmd_quality(args: argparse.Namespace) -> None:
    from ppl_vae.compare import run_quality
    from ppl_vae.lock import RunLock
    from ppl_vae.report import write_json
    from ppl_vae.run import load_trained

    require_positive(args.samples, "--samples")
    require_positive(args.permutations, "--permutations")
    run = load_trained(Path(args.run_dir), args.device)
    stem = f"quality-seed{args.seed}-N{args.samples}"
    print(f"measuring {args.samples} samples and codes of {run.directory}")
    with RunLock(run.directory, "quality"):
        start = time.perf_counter()
        result = run_quality(run, args.samples, args.seed, args.permutations)
        result["seconds"] = round(time.perf_counter() - start, 2)
        write_json(run.directory / f"{stem}.json", result)
    for key in ("sample_quality", "aggregate_posterior_mmd"):
        if result[key] is not None:
            print(f"{key}:")
            print_table(result[key])
    for note in result["notes"]:
        print(note)
    print(f"wrote {stem}.json to {run.directory}")


def cmd_ood(args: argparse.Namespace) -> None:
    import numpy as np

    from ppl_vae.lock import RunLock
    from ppl_vae.ood import SCORE_UNITS, detect, load_outliers
    from ppl_vae.plots import plot_detection
    from ppl_vae.report import write_json
    from ppl_vae.run import load_trained

    require_positive(args.iw_samples, "--iw-samples")
    require_positive(args.limit, "--limit")
    require_positive(args.typicality_batch, "--typicality-batch")
    run = load_trained(Path(args.run_dir), args.device)
    outliers = load_outliers(run, args.outliers, args.split, args.seed)
    stem = output_stem(f"ood-{outliers.name}", args.split, args.limit, args.seed, K=args.iw_samples)
    print(f"scoring {run.directory}'s {args.split} split against {outliers.description}")
    with RunLock(run.directory, "ood"):
        start = time.perf_counter()
        summary, scores = detect(
            run, outliers, args.split, args.iw_samples, args.limit, args.seed, args.typicality_batch
        )
        summary["seconds"] = round(time.perf_counter() - start, 2)
        write_json(run.directory / f"{stem}.json", summary)
        np.savez(run.directory / f"{stem}.npz", **scores)
        names = [n for n in SCORE_UNITS if f"in_{n}" in scores]
        plot_detection({n: (scores[f"in_{n}"], scores[f"out_{n}"]) for n in names}, SCORE_UNITS, run.directory, stem)
    print(f"  {'score':<24} {'AUROC':>7} {'AUPR-out':>9} {'FPR@95':>7}")
    rows = {**summary["scores"], **{k: summary[k] for k in ("typicality", "bayes_reject") if k in summary}}
    for name, row in rows.items():
        print(f"  {name:<24} {row['auroc']:>7.4f} {row['aupr_out']:>9.4f} {row['fpr_at_95_tpr']:>7.4f}")
    print(f"wrote {stem}.json, {stem}.npz, {stem}_roc.png and {stem}_scores.png to {run.directory}")


def cmd_probe(args: argparse.Namespace) -> None:
    from ppl_vae.latent_views import require_codes
    from ppl_vae.probe import ALL, write_probe
    from ppl_vae.run import load_trained

    require_positive(args.draws, "--draws")
    counts = [ALL if c == ALL else int(c) if c.isdigit() else c for c in args.labels]
    bad = [c for c in counts if c != ALL and not isinstance(c, int)]
    if bad:
        raise ConfigError(f"--labels takes whole numbers or 'all', got {bad[0]!r}")
    run = load_trained(Path(args.run_dir), args.device)
    require_codes(run, "probe")
    summary, stem = write_probe(run, counts, args.draws, args.seed)
    table = summary["accuracy"]
    print(
        f"test accuracy of a logistic regression with n labels (mean ± std over {args.draws} draws; "
        f"chance {summary['chance_accuracy']:.3f}):"
    )
    print(f"  {'features':<10}" + "".join(f"{str(c):>18}" for c in counts))
    for kind, rows in table.items():
        print(f"  {kind:<10}" + "".join(f"{rows[str(c)]['mean']:>11.4f} ± {rows[str(c)]['std']:.3f}" for c in counts))
    print(f"wrote {stem}.json to {run.directory}")


def cmd_list(args: argparse.Namespace) -> None:
    from ppl_vae.config import load_experiment, load_plugins, shipped_experiments
    from ppl_vae.registry import DATASETS, GUIDES, MODELS, NETWORKS, PRIORS, STRATEGIES

    if args.experiment:
        load_plugins(load_experiment(args.experiment))
    for title, names in (
        ("models", MODELS.names()),
        ("guides", GUIDES.names()),
        ("priors", PRIORS.names()),
        ("networks", NETWORKS.names()),
        ("datasets", DATASETS.names()),
        ("strategies", STRATEGIES.names()),
        ("experiments", shipped_experiments()),
    ):
        print(f"{title}: {', '.join(names)}")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: training.device; auto for runs)")


def add_split_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """RUN_DIR, --split, --limit, --seed and --device: what a command that reads a run's data takes."""
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--limit", type=int, help=f"{verb} a random N examples of the split (drawn with --seed)")
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppl-vae", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an experiment into a run directory")
    train.add_argument(
        "experiment", nargs="?", help="experiment file or shipped name (default: the default experiment)"
    )
    train.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one key, value as TOML"
    )
    train.add_argument("--run-dir", help="where to write the run (default runs/NAME-TIMESTAMP)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    add_device(train)
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
    sample.add_argument("--output", help="PNG path (default RUN_DIR/samples[-labelY]-seedS.png)")
    sample.add_argument("--yes", action="store_true", help="draw even when the estimate exceeds 5 minutes")
    add_device(sample)
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

    latents = commands.add_parser(
        "latents", help="codes by class, the three problems of a latent space, manifold, traversals, interpolations"
    )
    latents.add_argument("run_dir")
    latents.add_argument("other", nargs="?", help="a second run, shown beside the first and measured with it")
    latents.add_argument("--dims", type=int, nargs=2, metavar=("I", "J"), help="latent dimensions of the manifold grid")
    latents.add_argument("--steps", type=int, default=10, help="points per side of the grid and per traversal")
    latents.add_argument("--seed", type=int, default=0)
    add_device(latents)
    latents.set_defaults(handler=cmd_latents)

    probe = commands.add_parser(
        "probe", help="accuracy of a linear classifier on the codes with few labels, beside raw values and PCA"
    )
    probe.add_argument("run_dir")
    probe.add_argument("--labels", nargs="+", default=["100", "1000", "all"], help="numbers of labels, or 'all'")
    probe.add_argument("--draws", type=int, default=5, help="label draws per number of labels")
    probe.add_argument("--seed", type=int, default=0)
    add_device(probe)
    probe.set_defaults(handler=cmd_probe)

    ood = commands.add_parser(
        "ood", help="reject inputs by their density: outlier scores of a run's inputs against an outlier set"
    )
    ood.add_argument("--outliers", required=True, help="a registered dataset, or a .npy/.npz file of images")
    ood.add_argument("--iw-samples", type=int, default=100, help="K, importance samples per example (latent models)")
    ood.add_argument("--typicality-batch", type=int, default=10, help="inputs per batch of the typicality test")
    add_split_arguments(ood, "score")
    ood.set_defaults(handler=cmd_ood)

    quality = commands.add_parser(
        "quality",
        help="sample quality (Fréchet distance in a small classifier's features, label entropies) and the "
        "aggregate posterior's distance from the prior (MMD, permutation p-value)",
    )
    quality.add_argument("run_dir")
    quality.add_argument("--samples", type=int, default=2000, help="model samples, real images and codes compared")
    quality.add_argument("--permutations", type=int, default=200, help="of the MMD permutation test")
    quality.add_argument("--seed", type=int, default=0)
    add_device(quality)
    quality.set_defaults(handler=cmd_quality)

    listing = commands.add_parser("list", help="registered models, guides, networks, datasets and shipped experiments")
    listing.add_argument("experiment", nargs="?", help="also load this experiment's plugins")
    listing.set_defaults(handler=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.command != "train":
            raise ConfigError(f"only 'train' runs under torchrun; run 'ppl-vae {args.command}' as one process")
        args.handler(args)
    except PluginError as error:
        print(f"ppl-vae: error: {error}", file=sys.stderr)
        traceback.print_exception(error.__cause__, file=sys.stderr)
        return 1
    except UserError as error:
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
