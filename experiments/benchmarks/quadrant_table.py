"""The quadrant table of Pyro's CVAE tutorial, measured here: baseline network vs CVAE, 1 / 2 / 3 input quadrants.

Trains ``quadrants_<source>_baseline`` and ``quadrants_<source>`` for each number of input
quadrants (reusing finished runs in ``--out``), then prints the negative conditional
log-likelihood of the output in nats per test image: the ELBO bound (what the tutorial
reports) and the importance-weighted estimate, beside the tutorial's figures, and writes
``quadrant_completions.png``: several CVAE completions per input beside the baseline's one answer.

    python experiments/benchmarks/quadrant_table.py              # MNIST, from ../shared/data
    python experiments/benchmarks/quadrant_table.py --source digits   # 8x8 digits, offline
    python experiments/benchmarks/quadrant_table.py --tiny       # digits, one quadrant, 1 epoch (the test suite)

The tutorial trained on MNIST's 60,000 training images and scored grey-level outputs with
Bernoulli cross-entropy; here the outputs are binarized (dynamically for training).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ppl_vae.core.devices import frozen
from ppl_vae.infer.predictive import output_predictive
from ppl_vae.report.plots import plot_image_rows
from ppl_vae.runs.trained import load_trained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

PYRO_TUTORIAL = {1: (100.4, 71.8), 2: (61.9, 51.0), 3: (25.4, 24.2)}  # (baseline, CVAE) NLL, nats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="mnist", choices=("mnist", "digits"))
    parser.add_argument("--out", default="runs/quadrant_table")
    parser.add_argument("--set", action="append", default=[], help="extra override for both experiments")
    parser.add_argument("--tiny", action="store_true", help="digits, one quadrant, one epoch: to check the script runs")
    args = parser.parse_args()
    overrides = list(args.set)
    counts = (1, 2, 3)
    if args.tiny:
        args.source, counts = "digits", (1,)
        overrides += ["training.epochs=1", "evaluation.iw_samples=10", "training.device='cpu'"]
    if args.source == "mnist":
        located = data_dir_override("mnist")
        if located is None:
            return 0
        overrides.append(located)
    out = Path(args.out)
    rows, figure_rows = [], []
    for quadrants in counts:
        runs = {
            kind: trained_once(
                f"quadrants_{args.source}{suffix}",
                out / f"quadrants_{args.source}{suffix}-q{quadrants}",
                [f"data.quadrants={quadrants}", *overrides],
            )
            for kind, suffix in (("baseline", "_baseline"), ("cvae", ""))
        }
        summaries = {kind: json.loads((d / "summary.json").read_text()) for kind, d in runs.items()}
        rows.append((quadrants, summaries))
        cvae, baseline = load_trained(runs["cvae"], "cpu"), load_trained(runs["baseline"], "cpu")
        data = cvae.data()
        x, y = data.test.x[:10], data.test.y[:10]
        with frozen(0):
            draws = output_predictive(cvae.pair, x, 3)[1].mean
            answer = output_predictive(baseline.pair, x, 1)[1].mean[0]
        figure_rows += [
            (f"{quadrants} quadrant(s): input (output region grey)", data.images(x, torch.full_like(y, 0.5))),
            ("truth (output binarized)", data.images(x, y)),
            ("baseline network: its one answer, the mean of p(y | x)", data.images(x, answer)),
            *(
                (f"CVAE draw {i + 1}: mean of p(y | x, z), z ~ p(z | x)", data.images(x, d))
                for i, d in enumerate(draws)
            ),
        ]
    print(f"\ndata: {rows[0][1]['cvae']['data']}")
    print("negative conditional log-likelihood of the output, nats per test image (lower is better)")
    header = (
        f"{'quadrants':>9}  {'baseline':>9}  {'CVAE ELBO':>9}  {'CVAE IW':>9}  {'Pyro baseline':>13}  {'Pyro CVAE':>9}"
    )
    print(header)
    for quadrants, s in rows:
        iw = s["cvae"]["test_importance_weighted"]["iw_log_likelihood_nats"]
        pyro = [f"{v:.1f}" for v in PYRO_TUTORIAL[quadrants]] if args.source == "mnist" else ["(MNIST only)"] * 2
        print(
            f"{quadrants:>9}  {-s['baseline']['test_elbo_nats']:>9.1f}  {-s['cvae']['test_elbo_nats']:>9.1f}  "
            f"{-iw:>9.1f}  {pyro[0]:>13}  {pyro[1]:>9}"
        )
    print(
        f"(IW: K = {rows[0][1]['cvae']['test_importance_weighted']['iw_samples']} samples from the recognition guide;"
        " the baseline has no latent, so its figure is exact)"
    )
    path = out / "quadrant_completions.png"
    plot_image_rows(figure_rows, 10, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
