"""The VAE, the adversarial autoencoder (Normal and mixture priors), the conditional AAE and the GAN,
trained on the same data and compared by the same measures (``ppl_vae.commands.quality``).

Rows (MNIST: 8-D codes, 784-500-500 MLPs for the VAE and the AAEs, the DCGAN-style conv GAN):

- ``vae_mnist`` with 8 latents and the AAEs' epoch budget, ``aae_mnist``, ``aae_mixture_mnist``,
  ``conditional_aae_mnist``, ``gan_mnist``, each as its experiment file says.

Columns: training time on this machine; the test importance-weighted log-likelihood (K from the
experiment; none for the GAN, an implicit model); MMD^2 between test codes and prior draws and its
permutation p-value (none for the GAN); the Fréchet distance of the samples to real test images in the
features of a small classifier trained on the real training images (one classifier for every row; not
comparable to published FIDs), beside the distance of real training images (the floor); the
classifier's mean label entropy of the samples and the entropy of their average label (log 10 = 2.303
at most). The conditional AAE draws one sample per test label, so its label entropies are not
comparable with the unconditional rows'.

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
from ppl_vae.evaluation.sample_quality import FeatureClassifier  # noqa: E402
from ppl_vae.runs.trained import load_trained  # noqa: E402

ROWS = {
    "mnist": [
        ("VAE", "vae_mnist", ["model.latent_dim=8", "training.epochs=20", "training.patience=0"]),
        ("AAE, Normal prior", "aae_mnist", []),
        ("AAE, mixture prior", "aae_mixture_mnist", []),
        ("conditional AAE", "conditional_aae_mnist", []),
        ("GAN", "gan_mnist", []),
    ],
    "digits": [
        ("VAE", "default", ["model.latent_dim=2"]),
        ("AAE, Normal prior", "aae_digits", ['model.prior="normal"']),
        ("AAE, mixture prior", "aae_digits", []),
        ("conditional AAE", "conditional_aae_digits", []),
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
    row = {
        "system": label,
        "experiment": summary["experiment"],
        "epochs": summary["epochs_run"],
        "train_seconds": summary["train_seconds"],
        "iw_log_likelihood_nats": iw.get("iw_log_likelihood_nats"),
        "iw_samples": iw.get("iw_samples"),
        "mmd": mmd.get("statistic"),
        "mmd_p_value": mmd.get("p_value"),
        "frechet_distance": quality.get("frechet_distance"),
        "frechet_distance_real": quality.get("frechet_distance_real"),
        "label_entropy": quality.get("label_entropy"),
        "marginal_label_entropy": quality.get("marginal_label_entropy"),
        "measure_seconds": round(time.perf_counter() - start, 1),
    }
    return row


def shown(value, spec: str) -> str:
    """``value`` formatted by ``spec`` (such as ``"8.2f"``), or a dash of the same width when missing."""
    return format("—", ">" + spec.split(".")[0]) if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    print(
        f"{'system':<20} {'epochs':>6} {'train s':>8} {'IW LL':>8} {'MMD^2':>8} {'p':>6} {'FD':>7} "
        f"{'FD real':>7} {'H(y|x)':>6} {'H(y)':>6}"
    )
    for r in rows:
        print(
            f"{r['system']:<20} {r['epochs']:>6} {r['train_seconds']:>8.0f} "
            f"{shown(r['iw_log_likelihood_nats'], '8.2f')} "
            f"{shown(r['mmd'], '8.4f')} {shown(r['mmd_p_value'], '6.3f')} {shown(r['frechet_distance'], '7.2f')} "
            f"{shown(r['frechet_distance_real'], '7.2f')} {shown(r['label_entropy'], '6.3f')} "
            f"{shown(r['marginal_label_entropy'], '6.3f')}"
        )


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
            classifier = FeatureClassifier(load_trained(run_dir, "cpu").images(), seed=0)
        rows.append(row_of(label, run_dir, args.samples, classifier))
    print_table(rows)
    (out / "adversarial_table.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {out / 'adversarial_table.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
