"""Exact and bounded likelihoods on the standard binarized MNIST: the masked PixelCNN, the gated PixelCNN and the
PixelVAE, trained here on 2 CPU cores with early stopping on the validation split, beside published figures.

Test negative log-likelihood in nats per image: exact for the PixelCNNs (one network pass), importance-weighted
(K from the experiment, 100) for the PixelVAE, an upper bound on its NLL. The published figures come from far
larger networks trained for days on GPUs: PixelCNN 81.30 and Row LSTM 80.54, Diagonal BiLSTM 79.20 (van den Oord
et al. 2016a, 7-12 layers of 128-384 units), PixelVAE 79.66 (Gulrajani et al. 2017); the 784-200-200-50 VAE
of this package's binarized_mnist_vae reached 92.05 (README).

    python experiments/benchmarks/likelihood_table.py            # needs ../shared/data (about an hour on 2 cores)
    python experiments/benchmarks/likelihood_table.py --tiny     # digits, 1 epoch, small networks (the test suite)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

PUBLISHED = {
    "pixelcnn_binarized_mnist": ("PixelCNN (masked)", 81.30),
    "gated_pixelcnn_binarized_mnist": ("gated PixelCNN", None),
    "pixel_vae_binarized_mnist": ("PixelVAE", 79.66),
}
TINY = ["data.name='digits'", "model.channels=8", "model.layers=1", "training.epochs=1", "evaluation.ppc_examples=0"]
TINY += ["evaluation.iw_samples=5"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/likelihood_table")
    parser.add_argument("--set", action="append", default=[], help="extra override for every run")
    parser.add_argument("--tiny", action="store_true", help="digits, 1 epoch: to check the script runs")
    args = parser.parse_args()
    overrides = ["training.device='cpu'", *args.set]
    if args.tiny:
        overrides += TINY
    else:
        located = data_dir_override("binarized_mnist")
        if located is None:
            return 0
        overrides.append(located)
    out, rows = Path(args.out), []
    for name, (label, published) in PUBLISHED.items():
        extra = ["model.decoder.channels=[8]", "guide.encoder.channels=[8]"] if args.tiny and "vae" in name else []
        run_dir = trained_once(name, out / name, [*overrides, *extra])
        summary = json.loads((run_dir / "summary.json").read_text())
        figures = summary["test_importance_weighted"]
        rows.append(
            {
                "system": label,
                "experiment": name,
                "test_nll_nats": -figures["iw_log_likelihood_nats"],
                "standard_error": figures["iw_standard_error"],
                "exact": figures["exact"],
                "iw_samples": figures["iw_samples"],
                "epochs": summary["epochs_run"],
                "best_epoch": summary["best_epoch"],
                "train_seconds": summary["train_seconds"],
                "published_nll": published,
            }
        )
    print(f"{'system':<20} {'test NLL':>9} {'± s.e.':>7} {'how':>10} {'epochs':>6} {'train s':>8} {'published':>9}")
    for r in rows:
        how = "exact" if r["exact"] else f"IW K={r['iw_samples']}"
        published = "—" if r["published_nll"] is None else f"{r['published_nll']:.2f}"
        print(
            f"{r['system']:<20} {r['test_nll_nats']:>9.2f} {r['standard_error']:>7.2f} {how:>10} {r['epochs']:>6} "
            f"{r['train_seconds']:>8.0f} {published:>9}"
        )
    (out / "likelihood_table.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {out / 'likelihood_table.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
