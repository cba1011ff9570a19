"""Posterior predictive checks of a trained pair, in ArviZ.

For each data point x_i, S draws z ~ q(z | x_i) from the guide and x_rep ~ p(x | z) from
the model (the model unconditioned: Pyro's ``Predictive`` would return x itself), and S
prior predictive draws z ~ p(z), x_rep ~ p(x | z). Test statistics (``ppl_vae.statistics``)
of every replicated image are kept; the replicated images themselves only for the first
``keep_images`` data points, and the posterior draws of z for as many data points as fit in
``max_latent_values`` numbers (dim ``latent_example`` in the ``posterior`` group). Work is
done in batches of data points, so memory is bounded by the batch, not by N * S.

Per statistic T and data point i, the Bayesian p-value is the mid p-value
p_i = P(T(x_rep) > T(x_i)) + P(T(x_rep) = T(x_i)) / 2 over the S draws. A statistic is
flagged when the observed mean of T lies outside the 94% interval of the replicated means,
or when more than 25% of the data points have p_i < 0.05 or p_i > 0.95.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import arviz
import numpy as np
import pyro
import pyro.distributions as dist
from torch import Tensor

from ppl_vae.data import check_data, observed_field
from ppl_vae.evaluate import batches, frozen
from ppl_vae.predictive import posterior_predictive, prior_predictive
from ppl_vae.registry import STATISTICS
from ppl_vae.weights import sample_sites

EXTREME_SHARE_LIMIT = 0.25
INTERVAL = 0.94
CALIBRATION_BINS = 10


@dataclass
class PredictiveCheck:
    """Results of :func:`posterior_predictive_check`; arrays are numpy.

    ``observed[name]`` (N,), ``replicated[name]`` (S, N) and ``prior[name]`` (S, N):
    statistic values; ``p_values[name]`` (N,); ``latents[site]`` (S, N, *event);
    ``log_likelihood`` (S, N): log p(x_i | z) per draw; ``x_subset`` (n_keep, D) and
    ``x_rep_subset`` (S, n_keep, D); ``calibration``: (bins, 3) rows of [mean predicted
    probability, observed frequency, pixel count], or None when the likelihood is not
    Bernoulli; ``pixel_frequency``: observed (D,) and replicated (S, D) per-pixel means.
    """

    observed: dict[str, np.ndarray]
    replicated: dict[str, np.ndarray]
    prior: dict[str, np.ndarray]
    p_values: dict[str, np.ndarray]
    latents: dict[str, np.ndarray]
    log_likelihood: np.ndarray
    x_subset: np.ndarray
    x_rep_subset: np.ndarray
    calibration: np.ndarray | None
    pixel_observed: np.ndarray
    pixel_replicated: np.ndarray
    image_shape: tuple[int, int]


def _mid_p_values(replicated: np.ndarray, observed: np.ndarray) -> np.ndarray:
    greater = (replicated > observed).mean(0)
    equal = (replicated == observed).mean(0)
    return greater + 0.5 * equal


def posterior_predictive_check(
    model,
    guide,
    x: Tensor,
    y: Tensor | None = None,
    num_samples: int = 100,
    statistics: dict | None = None,
    image_shape: tuple[int, int] = (28, 28),
    keep_images: int = 16,
    max_elements: int = 2**22,
    max_latent_values: int = 2**22,
    seed: int = 0,
) -> PredictiveCheck:
    """Draw posterior and prior predictive replicates of ``x`` (N, D) and compute ``statistics``.

    ``statistics``: name -> function of (M, H, W) images (default: every registered one).
    Runs under a private seeded RNG with no gradients (parameters are not touched).
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"the number of predictive draws S must be a whole number >= 1, got {num_samples!r}")
    if observed_field(model) != "x":
        raise ValueError(
            f"posterior predictive checks replicate images x; {type(model).__name__} scores its output "
            f"'{observed_field(model)}' instead (use importance-weighted evaluation for it)"
        )
    check_data(x, getattr(model, "data_support", "real"), getattr(model, "x_dim", None))
    if math.prod(image_shape) != x.shape[1]:
        raise ValueError(f"images of shape {image_shape} need {math.prod(image_shape)} values, data has {x.shape[1]}")
    statistics = statistics if statistics is not None else STATISTICS.entries()
    n, width = x.shape
    batch = max(1, min(n, max_elements // (num_samples * width)))
    keys = ("observed", "replicated", "prior", "log_likelihood", "x_rep")
    parts: dict[str, list] = {k: [] for k in keys}
    latents: dict[str, list] = {}
    bins = np.zeros((CALIBRATION_BINS, 3))
    bernoulli = True
    pixel_replicated = np.zeros((num_samples, width))

    def stats_of(images: Tensor) -> dict[str, np.ndarray]:
        flat = images.reshape(-1, *image_shape).numpy()
        return {k: fn(flat).reshape(images.shape[:-1]) for k, fn in statistics.items()}

    with frozen(seed), pyro.validation_enabled(False):
        for s in batches(n, batch):
            xs, ys = x[s], None if y is None else y[s]
            x_rep, likelihood, guide_trace = posterior_predictive(model, guide, xs, ys, num_samples)
            parts["observed"].append(stats_of(xs))
            parts["replicated"].append(stats_of(x_rep))
            parts["log_likelihood"].append(likelihood.log_prob(xs).numpy())
            for name, site in sample_sites(guide_trace).items():
                per_example = site["value"][0, 0].numel() * num_samples
                keep = max(0, min(len(xs), max_latent_values // per_example - s.start))
                if keep:
                    latents.setdefault(name, []).append(site["value"][:, :keep].numpy().copy())
            if s.start < keep_images:
                parts["x_rep"].append(x_rep[:, : keep_images - s.start].numpy().copy())
            pixel_replicated += x_rep.sum(1).numpy()
            base = likelihood.base_dist if isinstance(likelihood, dist.Independent) else likelihood
            bernoulli = bernoulli and isinstance(base, dist.Bernoulli)
            if bernoulli:
                probs = likelihood.mean.reshape(-1).numpy()
                observed = xs.expand(num_samples, *xs.shape).reshape(-1).numpy()
                which = np.minimum((probs * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
                bins[:, 0] += np.bincount(which, probs, CALIBRATION_BINS)
                bins[:, 1] += np.bincount(which, observed, CALIBRATION_BINS)
                bins[:, 2] += np.bincount(which, minlength=CALIBRATION_BINS)
            parts["prior"].append(stats_of(prior_predictive(model, len(xs), ys, num_samples)[0]))

    def joined(key: str, axis: int) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in parts[key]], axis=axis) for k in statistics}

    observed, replicated, prior = joined("observed", 0), joined("replicated", 1), joined("prior", 1)
    counts = np.maximum(bins[:, 2:3], 1)
    return PredictiveCheck(
        observed=observed,
        replicated=replicated,
        prior=prior,
        p_values={k: _mid_p_values(replicated[k], observed[k]) for k in statistics},
        latents={k: np.concatenate(v, axis=1) for k, v in latents.items()},
        log_likelihood=np.concatenate(parts["log_likelihood"], axis=1),
        x_subset=x[:keep_images].numpy(),
        x_rep_subset=np.concatenate(parts["x_rep"], axis=1),
        calibration=np.column_stack([bins[:, :2] / counts, bins[:, 2]]) if bernoulli else None,
        pixel_observed=x.mean(0).numpy(),
        pixel_replicated=pixel_replicated / n,
        image_shape=image_shape,
    )


def summarize(check: PredictiveCheck) -> dict[str, dict]:
    """Per statistic, the figures of ``ppc.json`` (see :data:`PPC_KEYS`)."""
    result = {}
    for name, observed in check.observed.items():
        replicated_means = np.nanmean(check.replicated[name], axis=1)  # (S,)
        low, high = np.nanquantile(replicated_means, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
        observed_mean = float(np.nanmean(observed))
        p = check.p_values[name]
        low_share, high_share = float((p < 0.05).mean()), float((p > 0.95).mean())
        outside = not (low <= observed_mean <= high)
        result[name] = {
            "observed_mean": observed_mean,
            "replicated_mean": float(np.nanmean(replicated_means)),
            "replicated_interval": [float(low), float(high)],
            "p_below_0.05_share": low_share,
            "p_above_0.95_share": high_share,
            "flagged": bool(outside or low_share + high_share > EXTREME_SHARE_LIMIT),
        }
    observed_px, replicated_px = check.pixel_observed, check.pixel_replicated
    p_px = (replicated_px > observed_px).mean(0) + 0.5 * (replicated_px == observed_px).mean(0)
    extreme = float(((p_px < 0.05) | (p_px > 0.95)).mean())
    result["pixel_frequency"] = {
        "observed_mean": float(observed_px.mean()),
        "replicated_mean": float(replicated_px.mean()),
        "p_extreme_pixel_share": extreme,
        "max_abs_difference": float(np.abs(replicated_px.mean(0) - observed_px).max()),
        "flagged": extreme > EXTREME_SHARE_LIMIT,
    }
    return result


PPC_KEYS = {
    "observed_mean": "mean of the statistic over the observed data points",
    "replicated_mean": "mean over draws of the mean over data points of the replicated statistic",
    "replicated_interval": "94% interval of the replicated mean over the S draws",
    "p_below_0.05_share": "share of data points whose Bayesian p-value is below 0.05",
    "p_above_0.95_share": "share of data points whose Bayesian p-value is above 0.95",
    "flagged": "true when the observed mean is outside the interval or over 25% of p-values are extreme",
    "p_extreme_pixel_share": "pixel_frequency only: share of pixels whose frequency p-value is < 0.05 or > 0.95",
    "max_abs_difference": "pixel_frequency only: largest |replicated - observed| per-pixel frequency",
}


def to_inference_data(check: PredictiveCheck) -> arviz.InferenceData:
    """The check as ``arviz.InferenceData`` with one chain; see the README for groups and dims."""

    def chain(values: np.ndarray) -> np.ndarray:
        return values[None]

    stats = list(check.observed)
    dims = {name: ["example"] for name in stats}
    dims.update({"x_rep": ["image", "pixel"], "x_subset": ["image", "pixel"], "x": ["example"]})
    posterior = {}
    for site, values in check.latents.items():
        posterior[site] = chain(values.reshape(*values.shape[:2], -1))
        dims[site] = ["latent_example", f"{site}_dim"]
    return arviz.from_dict(
        posterior=posterior,
        posterior_predictive={**{k: chain(v) for k, v in check.replicated.items()}, "x_rep": chain(check.x_rep_subset)},
        prior_predictive={k: chain(v) for k, v in check.prior.items()},
        observed_data={**check.observed, "x_subset": check.x_subset},
        log_likelihood={"x": chain(check.log_likelihood)},
        dims=dims,
        coords={"example": np.arange(len(next(iter(check.observed.values()))))},
    )


PPC_FILES = ("ppc.nc", "ppc.json", "ppc_statistics.png", "ppc_pvalues.png", "ppc_pixels.png")


def plot_check(check: PredictiveCheck, idata: arviz.InferenceData, folder) -> None:
    """Write ``ppc_statistics.png`` (arviz.plot_ppc), ``ppc_pvalues.png`` (arviz.plot_bpv) and
    ``ppc_pixels.png`` (per-pixel frequencies and, for Bernoulli likelihoods, calibration)."""
    from ppl_vae.plots import plt, save_figure

    names = list(check.observed)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    for kind, filename in (("ppc", "ppc_statistics.png"), ("bpv", "ppc_pvalues.png")):
        fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            if kind == "ppc":
                arviz.plot_ppc(
                    idata,
                    var_names=[name],
                    num_pp_samples=min(50, check.replicated[name].shape[0]),
                    ax=ax,
                    legend=ax is axes.flat[0],
                    random_seed=0,
                )
            else:
                arviz.plot_bpv(idata, var_names=[name], kind="u_value", ax=ax)
                ax.set_title(name)
        for ax in axes.flat[len(names) :]:
            ax.axis("off")
        save_figure(fig, folder / filename)
    panels = 3 if check.calibration is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.6))
    for ax, values, title in (
        (axes[0], check.pixel_observed, "observed pixel frequency"),
        (axes[1], check.pixel_replicated.mean(0), "replicated pixel frequency"),
    ):
        image = ax.imshow(values.reshape(check.image_shape), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(image, ax=axes[:2].tolist(), shrink=0.8)
    if check.calibration is not None:
        used = check.calibration[:, 2] > 0
        axes[2].plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axes[2].plot(check.calibration[used, 0], check.calibration[used, 1], marker="o")
        axes[2].set_xlabel("predicted pixel probability (bin mean)")
        axes[2].set_ylabel("observed frequency of ink")
        axes[2].set_title("calibration of p(x | z), z ~ q(z | x)", fontsize=9)
    save_figure(fig, folder / "ppc_pixels.png")


def write_check(check: PredictiveCheck, run_dir, extra: dict | None = None) -> dict:
    """Write every file of :data:`PPC_FILES` into ``run_dir``, all or none.

    The files are made in a temporary folder inside ``run_dir`` and moved in only when all
    exist, so a failed check leaves the previous files as they were.
    """
    import json
    import os
    import shutil
    import tempfile
    from pathlib import Path

    run_dir = Path(run_dir)
    summary = {**(extra or {}), "statistics": summarize(check)}
    idata = to_inference_data(check)
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=".ppc-"))
    try:
        idata.to_netcdf(str(staging / "ppc.nc"))
        (staging / "ppc.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_check(check, idata, staging)
        for name in PPC_FILES:
            os.replace(staging / name, run_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def format_table(statistics: dict[str, dict]) -> list[str]:
    """Lines of a table: statistic, observed mean, replicated mean and interval, extreme p-values, flag."""
    lines = [f"  {'statistic':<20} {'observed':>10} {'replicated [94% interval]':>32} {'p<.05':>6} {'p>.95':>6}"]
    for name, row in statistics.items():
        if "replicated_interval" in row:
            low, high = row["replicated_interval"]
            extreme = f"{row['p_below_0.05_share']:>6.2f} {row['p_above_0.95_share']:>6.2f}"
            interval = f"{row['replicated_mean']:.3f} [{low:.3f}, {high:.3f}]"
        else:
            extreme = f"{'extreme pixels':>13} {row['p_extreme_pixel_share']:.2f}"
            interval = f"{row['replicated_mean']:.3f}"
        flag = "  <- MISFIT" if row["flagged"] else ""
        lines.append(f"  {name:<20} {row['observed_mean']:>10.3f} {interval:>32} {extreme}{flag}")
    return lines
