"""The VAE, the adversarial autoencoders (Normal, mixture and swiss-roll priors), the conditional AAE and the GAN,
trained on the same data and compared by the same measures (``ppl_vae.commands.quality``), with the targets
of each beside the VAE's figures measured in the same run.

Rows (MNIST: 784-500-500 MLPs for the VAE and the AAEs, the DCGAN-style conv GAN):

- ``vae_mnist`` with 8 latents and the AAEs' epoch budget (the baseline), ``aae_mnist``, ``aae_mixture_mnist``,
  ``conditional_aae_mnist``, ``aae_swiss_roll_mnist`` (2-D code), ``gan_mnist``, each as its experiment file says.

Columns: training time on this machine; the test importance-weighted log-likelihood (K from the experiment;
none for the GAN, an implicit model); MMD^2 between test codes and prior draws and its ratio to the VAE's;
the smallest and largest ratio of the codes' standard deviation to the prior's, over the latents; in the
features of a small conv classifier trained on the real training images (one for every row; not Inception:
not comparable to published FIDs): the Fréchet distance of the samples to real test images and its ratio to
the VAE's, KID, precision and recall; for the conditional rows, how often the classifier names the class an
image was decoded for, one z decoded for every class. The classifier's test accuracy and the real training
images' figures (the floor) are printed above the table, the targets below it.

    python experiments/benchmarks/adversarial_table.py               # MNIST, needs ../shared/data
    python experiments/benchmarks/adversarial_table.py --tiny        # digits, 2 epochs (the test suite)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

from ppl_vae.commands.quality import run_quality  # noqa: E402
from ppl_vae.evaluation.feature_classifier import FeatureClassifier, feature_classifier  # noqa: E402
from ppl_vae.runs.trained import load_trained  # noqa: E402

SWISS_ROLL_BY_LABEL = [
    'model.prior="swiss_roll"',
    "model.prior_by_label=true",
    "training.strategy.labels_to_discriminator=true",
]
ROWS = {
    "mnist": [
        ("VAE", "vae_mnist", ["model.latent_dim=8", "training.epochs=10", "training.patience=0"]),
        ("AAE, Normal prior", "aae_mnist", []),
        ("AAE, mixture prior", "aae_mixture_mnist", []),
        ("conditional AAE", "conditional_aae_mnist", []),
        ("AAE, swiss roll by label", "aae_swiss_roll_mnist", []),
        ("GAN", "gan_mnist", []),
    ],
    "digits": [
        ("VAE", "default", ["model.latent_dim=2"]),
        ("AAE, Normal prior", "aae_digits", ['model.prior="normal"']),
        ("AAE, mixture prior", "aae_digits", []),
        ("conditional AAE", "conditional_aae_digits", []),
        ("AAE, swiss roll by label", "conditional_aae_digits", SWISS_ROLL_BY_LABEL),
        ("GAN", "gan_digits", []),
    ],
}


def row_of(label: str, run_dir: Path, samples: int, classifier: FeatureClassifier | None) -> dict:
    """The table's row of the finished run in ``run_dir``."""
    run = load_trained(run_dir, "cpu")
    summary = json.loads((run_dir / "summary.json").read_text())
    start = time.perf_counter()
    measured = run_quality(run, samples, seed=0, classifier=classifier)
    iw = summary.get("test_importance_weighted") or {}
    quality, mmd = measured["sample_quality"] or {}, measured["aggregate_posterior_mmd"] or {}
    ratios = measured["code_scale_ratio"] or [None]
    return {
        "system": label,
        "experiment": summary["experiment"],
        "epochs": summary["epochs_run"],
        "train_seconds": summary["train_seconds"],
        "iw_log_likelihood_nats": iw.get("iw_log_likelihood_nats"),
        "iw_samples": iw.get("iw_samples"),
        "mmd": mmd.get("statistic"),
        "mmd_p_value": mmd.get("p_value"),
        "code_scale_min": None if ratios[0] is None else min(ratios),
        "code_scale_max": None if ratios[0] is None else max(ratios),
        **{key: quality.get(key) for key in QUALITY_KEYS},
        "measure_seconds": round(time.perf_counter() - start, 1),
    }


QUALITY_KEYS = (
    "frechet_distance",
    "frechet_distance_real",
    "kernel_distance",
    "kernel_distance_real",
    "precision",
    "recall",
    "precision_real",
    "recall_real",
    "label_entropy",
    "marginal_label_entropy",
    "classifier_test_accuracy",
    "class_accuracy",
)


def shown(value, spec: str) -> str:
    """``value`` formatted by ``spec`` (such as ``"8.2f"``), or a dash of the same width when missing."""
    return format("—", ">" + spec.split(".")[0]) if value is None else format(value, spec)


def ratio(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or not baseline else value / baseline


def print_table(rows: list[dict]) -> None:
    vae = rows[0]
    print(
        f"feature classifier: test accuracy {vae['classifier_test_accuracy']:.4f}; real training images against the "
        f"test images: FD {vae['frechet_distance_real']:.2f}, KID {vae['kernel_distance_real']:.2f}, precision "
        f"{vae['precision_real']:.3f}, recall {vae['recall_real']:.3f} (not Inception features: not FIDs)"
    )
    print(
        f"{'system':<25} {'epochs':>6} {'train s':>8} {'IW LL':>8} {'MMD^2':>8} {'xVAE':>6} {'sd min':>6} "
        f"{'sd max':>6} {'FD':>7} {'xVAE':>5} {'KID':>8} {'prec':>5} {'recall':>6} {'class':>5}"
    )
    for r in rows:
        print(
            f"{r['system']:<25} {r['epochs']:>6} {r['train_seconds']:>8.0f} "
            f"{shown(r['iw_log_likelihood_nats'], '8.2f')} {shown(r['mmd'], '8.4f')} "
            f"{shown(ratio(r['mmd'], vae['mmd']), '6.2f')} {shown(r['code_scale_min'], '6.2f')} "
            f"{shown(r['code_scale_max'], '6.2f')} {shown(r['frechet_distance'], '7.2f')} "
            f"{shown(ratio(r['frechet_distance'], vae['frechet_distance']), '5.2f')} "
            f"{shown(r['kernel_distance'], '8.2f')} {shown(r['precision'], '5.3f')} {shown(r['recall'], '6.3f')} "
            f"{shown(r['class_accuracy'], '5.3f')}"
        )


def targets(rows: list[dict]) -> list[str]:
    """One line per target of the AAE and GAN rows against the VAE's (the first row): met or missed, with the
    figures."""
    vae, lines = rows[0], []

    def line(system: str, what: str, met: bool) -> None:
        lines.append(f"{'met   ' if met else 'MISSED'} {system}: {what}")

    for r in rows[1:]:
        if r["mmd"] is not None:
            line(r["system"], f"MMD^2 {r['mmd']:.4f} <= 2 x the VAE's {vae['mmd']:.4f}", r["mmd"] <= 2 * vae["mmd"])
            spread = f"codes' sd / prior's in [{r['code_scale_min']:.2f}, {r['code_scale_max']:.2f}] within [0.7, 1.3]"
            line(r["system"], spread, 0.7 <= r["code_scale_min"] and r["code_scale_max"] <= 1.3)
            fd = r["frechet_distance"]
            line(
                r["system"],
                f"FD {fd:.2f} <= 1.5 x the VAE's {vae['frechet_distance']:.2f}",
                fd <= 1.5 * vae["frechet_distance"],
            )
        if r["class_accuracy"] is not None:
            line(
                r["system"],
                f"class recognized for a fixed z {r['class_accuracy']:.3f} >= 0.95",
                r["class_accuracy"] >= 0.95,
            )
        if r["mmd"] is None and r["precision"] is not None:
            line(
                r["system"],
                f"precision {r['precision']:.3f} > the VAE's {vae['precision']:.3f}",
                r["precision"] > vae["precision"],
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="mnist", choices=tuple(ROWS))
    parser.add_argument("--samples", type=int, default=5000, help="samples, real images and codes compared")
    parser.add_argument("--out", default="runs/adversarial_table")
    parser.add_argument("--set", action="append", default=[], help="extra override for every run")
    parser.add_argument("--tiny", action="store_true", help="digits, 2 epochs: to check the script runs")
    args = parser.parse_args()
    overrides = ["training.device='cpu'", *args.set]
    if args.tiny:
        args.source, args.samples = "digits", 100
        overrides += ["training.epochs=2", "evaluation.iw_samples=5", "evaluation.ppc_examples=0"]
        overrides += ["evaluation.classify_samples=2"]
    if args.source == "mnist":
        located = data_dir_override("mnist")
        if located is None:
            return 0
        overrides.append(located)
    out = Path(args.out)
    rows, classifier = [], None
    for i, (label, name, extra) in enumerate(ROWS[args.source]):
        run_dir = trained_once(name, out / f"{i}-{name}", [*extra, *overrides])
        if classifier is None:
            classifier = feature_classifier(load_trained(run_dir, "cpu").images(), seed=0)
        rows.append(row_of(label, run_dir, args.samples, classifier))
    print_table(rows)
    print("\n".join(targets(rows)))
    (out / "adversarial_table.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {out / 'adversarial_table.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
