"""PCA, probabilistic PCA, the autoencoder and the VAE side by side, at the same latent sizes.

For each latent size d, on the same data as the models see it (digits binarized at 0.5, or MNIST
dynamically binarized, whose valid and test images are binarized once):

- PCA (scikit-learn) with d components: its reconstruction;
- PPCA in closed form (Tipping & Bishop 1999): its reconstruction (the posterior mean of z), and its
  test log-likelihood of the binary images: the closed-form Gaussian fitted to the dequantized
  data x' = (x + u) / 2, scored as E_u log N(x'; b, W W^T + s^2 I) - D log 2 (exact in closed form);
- the autoencoder (``ae_digits`` / ``ae_mnist``: deterministic encoder, beta = 0) and the VAE
  (``default`` / ``vae_mnist``), trained with d latents: reconstruction at the code (the mean of
  q(z | x)), log p(x | code) in nats, and, for the VAE, the importance-weighted test log-likelihood.

Squared error is per image, summed over pixels; nats are per image. Prints the table and the
training time of every run.

    python experiments/benchmarks/autoencoder_table.py [--source digits] [--latent-sizes 2 10 50]
    python experiments/benchmarks/autoencoder_table.py --source mnist --out runs/ae_table_mnist
    python experiments/benchmarks/autoencoder_table.py --tiny      # digits, d = 2, 2 epochs (the test suite)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from ppl_vae.evaluation.latents import reconstruction_errors
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.models.linear_gaussian import fit_ppca
from ppl_vae.runs.trained import load_trained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir_override, trained_once  # noqa: E402

EXPERIMENTS = {"digits": ("ae_digits", "default"), "mnist": ("ae_mnist", "vae_mnist")}


def dequantized_ppca_log_likelihood(train: torch.Tensor, test: torch.Tensor, latent_dim: int, levels: int) -> float:
    """Mean over ``test`` (values k / (levels - 1)) of E_u log N((k + u) / L; b, C) - D log L, nats, with the
    closed-form PPCA fitted to the dequantized training data in expectation."""

    def centres(x: torch.Tensor) -> torch.Tensor:
        return ((x * (levels - 1) + 0.5) / levels).double().reshape(len(x), -1)

    with torch.no_grad():
        marginal = fit_ppca(centres(train), latent_dim, extra_variance=1 / (12 * levels**2)).marginal()
        trace_term = torch.linalg.inv(marginal.covariance_matrix).diagonal().sum() / (12 * levels**2)
        flat = centres(test)
        return float((marginal.log_prob(flat) - 0.5 * trace_term).mean() - flat.shape[1] * math.log(levels))


def linear_rows(train: torch.Tensor, test: torch.Tensor, latent_dim: int, levels: int) -> dict:
    """Squared errors of PCA and PPCA reconstructions, and the dequantized PPCA test log-likelihood."""
    from sklearn.decomposition import PCA

    flat_train, flat_test = (t.reshape(len(t), -1).double() for t in (train, test))
    pca = PCA(latent_dim).fit(flat_train.numpy())
    pca_error = ((pca.inverse_transform(pca.transform(flat_test.numpy())) - flat_test.numpy()) ** 2).sum(1).mean()
    ppca = fit_ppca(flat_train, latent_dim)
    with torch.no_grad():
        posterior_mean = ppca.exact_posterior(flat_test).mean
        ppca_error = ((ppca.linear(posterior_mean) - flat_test) ** 2).sum(1).mean()
    return {
        "pca_squared_error": float(pca_error),
        "ppca_squared_error": float(ppca_error),
        "ppca_log_likelihood": dequantized_ppca_log_likelihood(train, test, latent_dim, levels),
    }


def model_rows(run_dir: Path, iw_samples: int) -> dict:
    run = load_trained(run_dir, "cpu")
    test = run.data().test
    errors, log_likelihoods = reconstruction_errors(run.pair, test.x)
    summary = json.loads((run_dir / "summary.json").read_text())
    row = {
        "squared_error": float(errors.mean()),
        "reconstruction_nats": float(-log_likelihoods.mean()),
        "train_seconds": summary["train_seconds"],
        "epochs": summary["epochs_run"],
    }
    if run.pair.guide_contract.density:
        estimate = importance_weighted_log_likelihood(run.pair, test.x, test.y, iw_samples)
        row["log_likelihood"] = float(estimate.log_likelihood.mean())
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="digits", choices=tuple(EXPERIMENTS))
    parser.add_argument("--latent-sizes", type=int, nargs="+", default=[2, 10, 50])
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--out", default="runs/autoencoder_table")
    parser.add_argument("--set", action="append", default=[], help="extra override for every run")
    parser.add_argument("--tiny", action="store_true", help="digits, 2 latents, 2 epochs: to check the script runs")
    args = parser.parse_args()
    overrides = ["training.device='cpu'", *args.set]
    if args.tiny:
        args.source, args.latent_sizes, args.iw_samples = "digits", [2], 10
        overrides += ["training.epochs=2", "evaluation.iw_samples=5", "evaluation.ppc_examples=20"]
        overrides += ["evaluation.ppc_samples=2"]
    if args.source == "mnist":
        located = data_dir_override("mnist")
        if located is None:
            return 0
        overrides.append(located)
    out = Path(args.out)
    ae_name, vae_name = EXPERIMENTS[args.source]
    rows = {}
    for d in args.latent_sizes:
        runs = {
            kind: trained_once(name, out / f"{name}-d{d}", [f"model.latent_dim={d}", *overrides])
            for kind, name in (("ae", ae_name), ("vae", vae_name))
        }
        data = load_trained(runs["vae"], "cpu").data()
        row = linear_rows(data.train.x, data.test.x, d, data.levels)
        row.update({kind: model_rows(run_dir, args.iw_samples) for kind, run_dir in runs.items()})
        rows[d] = row
    print(f"\ndata: {data.description}; test split, {len(data.test)} images of {data.test.x[0].numel()} values")
    print("squared error per image (sum over pixels) | -log p(x | code), nats | test -log p(x), nats (lower is better)")
    print(f"{'d':>4} {'PCA':>8} {'PPCA':>8} {'AE':>8} {'VAE':>8} | {'AE':>8} {'VAE':>8} | {'PPCA':>8} {'VAE':>8}")
    for d, r in rows.items():
        print(
            f"{d:>4} {r['pca_squared_error']:>8.2f} {r['ppca_squared_error']:>8.2f} {r['ae']['squared_error']:>8.2f} "
            f"{r['vae']['squared_error']:>8.2f} | {r['ae']['reconstruction_nats']:>8.2f} "
            f"{r['vae']['reconstruction_nats']:>8.2f} | {-r['ppca_log_likelihood']:>8.2f} "
            f"{-r['vae']['log_likelihood']:>8.2f}"
        )
    times = ", ".join(
        f"d={d}: AE {r['ae']['train_seconds']:.0f} s ({r['ae']['epochs']} epochs), "
        f"VAE {r['vae']['train_seconds']:.0f} s ({r['vae']['epochs']} epochs)"
        for d, r in rows.items()
    )
    print(f"(VAE log-likelihood importance-weighted with K = {args.iw_samples}; training: {times})")
    path = out / "autoencoder_table.json"
    path.write_text(json.dumps({str(d): r for d, r in rows.items()}, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
