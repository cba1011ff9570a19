"""Does an autoregressive decoder remove the factorized VAE's predictive-check flags, and what does it cost z?

Rows, on the 8x8 digits (binarized at 0.5), with the same Gaussian encoder and 8 latents: the factorized
Bernoulli VAE (``default``), then the PixelVAE (``pixel_vae_digits``) with a gated PixelCNN decoder of 1, 2, 3
and 5 gated layers (``model.layers`` 0, 1, 2, 4). Columns: the test log-likelihood (importance-weighted,
K from the experiment), the KL term (the sum over latents of the mean KL(q(z_j | x) || p(z_j))), the active
units (Burda et al.), and the statistics the end-of-run posterior predictive check flags (ppc.json), among them
``strokes`` and ``edge_length``, where independently drawn pixels leave speckle.

    python experiments/benchmarks/pixel_vae_collapse.py           # digits, about 10 minutes on 2 cores
    python experiments/benchmarks/pixel_vae_collapse.py --tiny    # 2 epochs, 2 rows (the test suite)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import trained_once  # noqa: E402

ROWS = [("factorized VAE", "default", [])] + [
    (f"PixelVAE, {layers + 1} gated layer{'s' if layers else ''}", "pixel_vae_digits", [f"model.layers={layers}"])
    for layers in (0, 1, 2, 4)
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/pixel_vae_collapse")
    parser.add_argument("--tiny", action="store_true", help="2 epochs, 2 rows: to check the script runs")
    args = parser.parse_args()
    overrides, rows = ["training.device='cpu'"], ROWS
    if args.tiny:
        overrides += ["training.epochs=2", "evaluation.iw_samples=5", "evaluation.ppc_examples=10"]
        overrides += ["evaluation.ppc_samples=2"]
        rows = ROWS[:2]
    out, table = Path(args.out), []
    for label, name, extra in rows:
        run_dir = trained_once(name, out / f"{name}{''.join(e.split('=')[1] for e in extra)}", [*extra, *overrides])
        summary = json.loads((run_dir / "summary.json").read_text())
        figures = summary["test_importance_weighted"]
        table.append(
            {
                "system": label,
                "test_log_likelihood_nats": figures["iw_log_likelihood_nats"],
                "kl_nats": sum(sum(values) for values in figures["kl_per_dim"].values()),
                "active_units": sum(figures["active_units"].values()),
                "ppc_flagged": summary.get("ppc_flagged", []),
                "epochs": summary["epochs_run"],
                "train_seconds": summary["train_seconds"],
            }
        )
    print(f"{'system':<28} {'test LL':>8} {'KL':>7} {'active':>6} {'train s':>7}  flagged by the predictive check")
    for r in table:
        print(
            f"{r['system']:<28} {r['test_log_likelihood_nats']:>8.2f} {r['kl_nats']:>7.2f} {r['active_units']:>6} "
            f"{r['train_seconds']:>7.0f}  {', '.join(r['ppc_flagged']) or 'none'}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "pixel_vae_collapse.json").write_text(json.dumps(table, indent=2) + "\n")
    print(f"wrote {out / 'pixel_vae_collapse.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
