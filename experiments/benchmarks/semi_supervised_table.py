"""Semi-supervised classification with few labels: M2, M1+M2, the classifier on the labels alone, the linear probe.

For each number of labels n and each seed s (the seed of training and of the label draw, ``data.labels_seed``),
on the same n labelled training examples (balanced over the classes) and the same test split:

- **M2**: ``semi_supervised_digits`` / ``semi_supervised_mnist`` with ``data.labels = n``: the test accuracy of
  its classifier q(y | x) (and, in the JSON, of the Bayes rule through the model);
- **M1+M2**: M2 on the codes of M1 (``default`` / ``m1_mnist``, trained once, seed 0, without labels):
  ``m1_m2_mnist`` (for the digits, with the digits' network sizes);
- **labels alone**: M2's classifier network trained on the n labelled examples only
  (``ppl_vae.evaluation.supervised``), the baseline the generative models must beat;
- **probe**: a logistic regression on M1's codes with n labels (``ppl_vae.evaluation.probe``, one draw per
  seed).

Prints per n the mean ± standard deviation over the seeds of each, the test error of each as a ratio of the
error of the classifier on the labels alone (measured in the same run), and the training times. With
``--alternate`` M2 takes two optimizer steps per batch, one on its labelled and one on its unlabelled examples,
instead of one on both (the comparison behind the shipped choice; M2 only).

    python experiments/benchmarks/semi_supervised_table.py                       # digits, 50 and 100 labels
    python experiments/benchmarks/semi_supervised_table.py --source mnist --labels 100 600 1000 3000
    python experiments/benchmarks/semi_supervised_table.py --tiny                # 2 epochs, to check it runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from ppl_vae.evaluation.probe import probe
from ppl_vae.evaluation.supervised import accuracy, train_classifier
from ppl_vae.runs.trained import load_trained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

SOURCES = {  # M1, M2, M1+M2 experiments, and overrides of M1+M2 for the source
    "digits": ("default", "semi_supervised_digits", "m1_m2_mnist", ["model.latent_dim=8"]),
    "mnist": ("m1_mnist", "semi_supervised_mnist", "m1_m2_mnist", []),
}
DIGITS_NETWORKS = ["model.decoder.hidden=[128]", "guide.encoder.hidden=[128]", "guide.classifier.hidden=[128]"]
DIGITS_NETWORKS += ["training.epochs=60", "training.learning_rate=3e-3", "evaluation.iw_samples=100"]
ALTERNATING = '''
from ppl_vae import register_strategy
from ppl_vae.data.labelled import labelled_mask
from ppl_vae.train.svi import SVIStrategy


@register_strategy("alternating_svi")
class AlternatingSVI(SVIStrategy):
    """Two optimizer steps per batch of the semi-supervised objective: its labelled examples, then the others."""

    def step(self, x, y, beta, total):
        known, objective, model, guide = labelled_mask(y), self.loss.elbo, self.pair.model, self.pair.guide
        parts = []
        if bool(known.any()):
            parts.append(lambda: objective.labelled_loss(model, guide, x[known], y[known]))
        if bool((~known).any()):
            parts.append(lambda: objective.unlabelled_loss(model, guide, x[~known]))
        done = 0.0
        for part in parts:
            loss = part() / total
            self.update("svi", loss)
            done += loss.item()
        return -done
'''


def classifier_accuracy(run_dir: Path) -> tuple[float, float, float]:
    """(accuracy of q(y | x), accuracy of the Bayes rule, training seconds) from a run's summary."""
    summary = json.loads((run_dir / "summary.json").read_text())
    return (
        summary["classification"]["classifier_accuracy"],
        summary["classification"]["accuracy"],
        summary["train_seconds"],
    )


def alone_accuracy(m2_dir: Path, seed: int, epochs: int) -> float:
    """Test accuracy of M2's classifier network trained on M2's labelled examples alone, ``epochs`` passes."""
    run = load_trained(m2_dir, "cpu")
    data, training = run.data(), run.experiment.training
    classifier = train_classifier(
        run.experiment.sections["guide"]["classifier"],
        data.train.x[data.labelled],
        data.train.y[data.labelled],
        data.num_classes,
        epochs=epochs,
        learning_rate=training.learning_rate,
        dynamic_binarization=data.dynamic_binarization,
        seed=seed,
    )
    return accuracy(classifier, data.test.x, data.test.y)


def spread(values: list[float]) -> str:
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):5.1f} ± {100 * deviation:3.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="digits", choices=tuple(SOURCES))
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 of training and of the label draws")
    parser.add_argument("--out", default="runs/semi_supervised_table")
    parser.add_argument("--alone-epochs", type=int, default=300, help="epochs of the classifier on the labels alone")
    parser.add_argument("--alternate", action="store_true", help="M2 only, two optimizer steps per batch")
    parser.add_argument("--set", action="append", default=[], help="extra override for every M2 and M1+M2 run")
    parser.add_argument("--tiny", action="store_true", help="digits, 50 labels, one seed, 2 epochs, small networks")
    args = parser.parse_args()
    out = Path(args.out)
    m1_name, m2_name, m1m2_name, m1m2_overrides = SOURCES[args.source]
    common = ["training.device='cpu'", "evaluation.ppc_examples=0"]
    m1_overrides = list(common)
    if args.source == "digits":
        m1m2_overrides = [*m1m2_overrides, *DIGITS_NETWORKS]
    if args.tiny:
        args.labels, args.seeds, args.alone_epochs = [50], 1, 20
        common += ["training.epochs=2", "evaluation.iw_samples=3", "evaluation.classify_samples=2"]
        common += ["model.decoder.hidden=[32]", "guide.encoder.hidden=[32]", "model.latent_dim=4"]
        m1_overrides = list(common)
        m1m2_overrides = ["guide.classifier.hidden=[32]"]
    if args.source == "mnist":
        located = data_dir_override("mnist")
        if located is None:
            return 0
        common.append(located)
        m1_overrides.append(located)
    m2_extra = list(args.set)
    if args.alternate:
        out.mkdir(parents=True, exist_ok=True)
        plugin = out / "alternating_svi.py"
        plugin.write_text(ALTERNATING)
        m2_extra += [f'experiment.plugins=["{plugin.resolve()}"]', "training.strategy='alternating_svi'"]
    m1 = trained_once(m1_name, out / m1_name, m1_overrides)
    table: dict[int, dict[str, list[float]]] = {}
    seconds = {"M1": json.loads((m1 / "summary.json").read_text())["train_seconds"], "M2": 0.0, "M1+M2": 0.0}
    for n in args.labels:
        rows = table.setdefault(n, {"M2": [], "M2 Bayes rule": [], "M1+M2": [], "labels alone": [], "probe": []})
        for seed in range(args.seeds):
            chosen = [f"data.labels={n}", f"data.labels_seed={seed}", f"training.seed={seed}"]
            m2 = trained_once(m2_name, out / f"m2-n{n}-s{seed}", [*common, *chosen, *m2_extra])
            q, bayes, spent = classifier_accuracy(m2)
            rows["M2"].append(q)
            rows["M2 Bayes rule"].append(bayes)
            seconds["M2"] += spent
            rows["labels alone"].append(alone_accuracy(m2, seed, args.alone_epochs))
            if args.alternate:
                continue
            m1m2_chosen = [*common, *chosen, *m1m2_overrides, f'data.of="{m1.resolve()}"', *args.set]
            m1m2 = trained_once(m1m2_name, out / f"m1m2-n{n}-s{seed}", m1m2_chosen)
            rows["M1+M2"].append(classifier_accuracy(m1m2)[0])
            seconds["M1+M2"] += classifier_accuracy(m1m2)[2]
            m1_run = load_trained(m1, "cpu")
            rows["probe"].append(probe(m1_run.pair, m1_run.data(), [n], draws=1, seed=seed)["codes"][str(n)]["mean"])
    data = load_trained(m1, "cpu").data()
    print(f"\ndata: {data.description}; test split, {len(data.test)} examples")
    batching = "two steps per batch (--alternate)" if args.alternate else "labelled and unlabelled mixed in each batch"
    print(f"test accuracy, %, mean ± std over seeds 0..{args.seeds - 1}; M2 {batching}")
    methods = [name for name in next(iter(table.values())) if table[args.labels[0]][name]]
    print(f"{'labels':>7} " + " ".join(f"{name:>15}" for name in methods))
    for n, rows in table.items():
        print(f"{n:>7} " + " ".join(f"{spread(rows[name]):>15}" for name in methods))
    print("test error as a ratio of the error of the classifier on the labels alone (lower is better):")
    for n, rows in table.items():
        alone = 1 - statistics.mean(rows["labels alone"])
        ratios = [
            f"{name} {(1 - statistics.mean(rows[name])) / alone:.2f}" for name in methods if name != "labels alone"
        ]
        print(f"{n:>7} labels: " + ", ".join(ratios))
    print("training seconds: " + ", ".join(f"{name} {value:.0f}" for name, value in seconds.items() if value))
    path = out / "semi_supervised_table.json"
    path.write_text(json.dumps({str(n): rows for n, rows in table.items()}, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
