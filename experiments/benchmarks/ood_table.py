"""Rejecting inputs by density, and its known failure: Fashion-MNIST against MNIST, both ways, for a VAE and a
PixelCNN (``ppl-vae ood`` on each run; ``ppl_vae.evaluation.ood`` documents the scores).

Rows: a model trained on one dataset (grey levels, discretized logistic pixels: ``conv_fashion_mnist`` /
``conv_mnist``, ``gated_pixelcnn_fashion_mnist`` / ``gated_pixelcnn_mnist``), scored on up to ``--limit`` of its
test images against as many test images of the other. Columns: the AUROC of the raw likelihood (below 0.5: the
outliers are *more* likely, Nalisnick et al. 2019), of the input-complexity correction (Serrà et al. 2020) and of
the typicality test on batches of 10 (Nalisnick et al. 2019b), with the mean bits per dimension of both sets.

    python experiments/benchmarks/ood_table.py            # needs ../shared/data (MNIST and Fashion-MNIST)
    python experiments/benchmarks/ood_table.py --tiny     # digits against noise images, 1 epoch (the test suite)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

from ppl_vae.commands.ood import load_outliers  # noqa: E402
from ppl_vae.evaluation.ood import detect  # noqa: E402
from ppl_vae.runs.trained import load_trained  # noqa: E402

ROWS = [
    ("VAE", "conv_fashion_mnist", "mnist"),
    ("PixelCNN", "gated_pixelcnn_fashion_mnist", "mnist"),
    ("VAE", "conv_mnist", "fashion_mnist"),
    ("PixelCNN", "gated_pixelcnn_mnist", "fashion_mnist"),
]
TINY = ["data.name='digits'", "training.epochs=1", "evaluation.ppc_examples=0", "evaluation.iw_samples=5"]
TINY_NETWORKS = {
    "VAE": ["model.decoder.channels=[8]", "guide.encoder.channels=[8]"],
    "PixelCNN": ["model.channels=8", "model.layers=1"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/ood_table")
    parser.add_argument("--limit", type=int, default=2000, help="test images of each set scored")
    parser.add_argument("--iw-samples", type=int, default=100)
    parser.add_argument("--run", action="append", default=[], metavar="EXPERIMENT=RUN_DIR", help="reuse a run")
    parser.add_argument("--only", nargs="+", metavar="EXPERIMENT", help="the rows of these experiments alone")
    parser.add_argument("--tiny", action="store_true", help="digits against noise, 1 epoch: to check the script runs")
    args = parser.parse_args()
    out, overrides = Path(args.out), ["training.device='cpu'"]
    reuse = dict(item.split("=", 1) for item in args.run)
    rows = ROWS
    if args.tiny:
        out.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(0).integers(0, 256, size=(100, 1, 8, 8)).astype(np.uint8)
        np.save(out / "noise.npy", noise)
        rows = [
            ("VAE", "conv_mnist", str(out / "noise.npy")),
            ("PixelCNN", "gated_pixelcnn_mnist", str(out / "noise.npy")),
        ]
        overrides += TINY
        args.limit, args.iw_samples = 100, 5
    else:
        for dataset in ("mnist", "fashion_mnist"):
            located = data_dir_override(dataset)
            if located is None:
                return 0
        overrides.append(located)
    table = []
    for system, name, outliers in [r for r in rows if not args.only or r[1] in args.only]:
        extra = [*overrides, *(TINY_NETWORKS[system] if args.tiny else [])]
        run_dir = Path(reuse[name]) if name in reuse else trained_once(name, out / name, extra)
        run = load_trained(run_dir, "cpu")
        summary, _ = detect(run, load_outliers(run, outliers, "test", 0), "test", args.iw_samples, args.limit, 0)
        scores = summary["scores"]
        table.append(
            {
                "system": system,
                "trained_on": run.data().name,
                "outliers": Path(outliers).stem,
                "bits_per_dim_in": summary["mean_bits_per_dim"]["in"],
                "bits_per_dim_out": summary["mean_bits_per_dim"]["out"],
                "auroc_likelihood": scores["negative_log_likelihood"]["auroc"],
                "auroc_input_complexity": scores["input_complexity"]["auroc"],
                "auroc_typicality": summary.get("typicality", {}).get("auroc"),
                "fpr95_likelihood": scores["negative_log_likelihood"]["fpr_at_95_tpr"],
                "fpr95_input_complexity": scores["input_complexity"]["fpr_at_95_tpr"],
                "run": str(run_dir),
                "seconds": summary.get("seconds"),
            }
        )
    print(
        f"{'system':<9} {'trained on':<14} {'outliers':<14} {'bpd in':>7} {'bpd out':>7} {'AUROC LL':>8} "
        f"{'AUROC IC':>8} {'AUROC typ':>9}"
    )
    for r in table:
        typical = "—" if r["auroc_typicality"] is None else f"{r['auroc_typicality']:.3f}"
        print(
            f"{r['system']:<9} {r['trained_on']:<14} {r['outliers']:<14} {r['bits_per_dim_in']:>7.3f} "
            f"{r['bits_per_dim_out']:>7.3f} {r['auroc_likelihood']:>8.3f} {r['auroc_input_complexity']:>8.3f} "
            f"{typical:>9}"
        )
    (out / "ood_table.json").write_text(json.dumps(table, indent=2) + "\n")
    print(f"wrote {out / 'ood_table.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
