"""Posterior predictive checks of a trained pair, in ArviZ.

For each data point x_i, S draws z ~ q(z | x_i) from the guide and x_rep ~ p(x | z) from
the model (the model unconditioned: Pyro's ``Predictive`` would return x itself), and S
prior predictive draws z ~ p(z), x_rep ~ p(x | z). Test statistics (``ppl_vae.evaluation.statistics``)
of every replicated image are kept; the replicated data themselves only for the first
``keep_images`` data points, and the posterior draws of z for as many data points as fit in
``max_latent_values`` numbers (dim ``latent_example`` in the ``posterior`` group). Work is
done in batches of data points whose S draws make at most ``max_elements`` numbers in any
network (``ppl_vae.infer.sizing.widest_per_sample``), so memory is bounded by the batch, not by N * S.

Image statistics read grey images (H, W): colour images are checked on their channel
mean. Vector data (no image shape) has no image statistics: only the per-value
frequencies are checked, and the result says so.

The prior predictive check (:func:`prior_predictive_check`) computes the same statistics, p-values, flags and
figures with draws x_rep ~ p(x) (z ~ p(z), x_rep ~ p(x | z)) in place of the posterior's: it checks the model
before the data, whether what it generates a priori covers the data at all (Gabry et al. 2019, Section 3).

Per statistic T and data point i, the Bayesian p-value is the mid p-value
p_i = P(T(x_rep) > T(x_i)) + P(T(x_rep) = T(x_i)) / 2 over the S draws. A statistic is
flagged when the observed mean of T lies outside the 94% interval of the replicated means,
or when more than 25% of the data points have p_i < 0.05 or p_i > 0.95.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.inference_data import from_groups
from ppl_vae.core.registry import STATISTICS
from ppl_vae.data.checks import check_data
from ppl_vae.infer.predictive import posterior_predictive, prior_predictive, prior_predictive_trace
from ppl_vae.infer.sizing import batches, widest_per_sample
from ppl_vae.infer.weights import sample_sites

EXTREME_SHARE_LIMIT = 0.25
INTERVAL = 0.94
CALIBRATION_BINS = 10
NO_IMAGE_NOTE = "vector data has no image shape: image statistics were skipped, only per-value frequencies checked"


@dataclass
class PredictiveCheck:
    """Results of :func:`posterior_predictive_check`; arrays are numpy.

    ``observed[name]`` (N,), ``replicated[name]`` (S, N) and ``prior[name]`` (S, N):
    statistic values; ``p_values[name]`` (N,); ``latents[site]`` (S, N_kept, *event);
    ``log_likelihood`` (S, N): log p(x_i | z) per draw; ``x_subset`` (n_keep, D) and
    ``x_rep_subset`` (S, n_keep, D), flattened; ``calibration``: (bins, 3) rows of [mean
    predicted probability, observed frequency, value count], or None when the likelihood is
    not Bernoulli; ``pixel_observed`` (D,) and ``pixel_replicated`` (S, D): per-value means;
    ``image_shape``: (C, H, W), or None for vector data (then ``note`` says what was skipped); ``group``:
    ``posterior_predictive``, or ``prior_predictive`` for a prior predictive check, whose ``replicated`` and
    ``x_rep_subset`` are draws of p(x), ``latents`` draws of p(z), ``prior`` empty and ``log_likelihood`` None.
    """

    observed: dict[str, np.ndarray]
    replicated: dict[str, np.ndarray]
    prior: dict[str, np.ndarray]
    p_values: dict[str, np.ndarray]
    latents: dict[str, np.ndarray]
    log_likelihood: np.ndarray | None
    x_subset: np.ndarray
    x_rep_subset: np.ndarray
    calibration: np.ndarray | None
    pixel_observed: np.ndarray
    pixel_replicated: np.ndarray
    image_shape: tuple[int, ...] | None
    note: str | None = None
    group: str = "posterior_predictive"


def _mid_p_values(replicated: np.ndarray, observed: np.ndarray) -> np.ndarray:
    greater = (replicated > observed).mean(0)
    equal = (replicated == observed).mean(0)
    return greater + 0.5 * equal


def grey_images(values: Tensor, image_shape: tuple[int, ...]) -> np.ndarray:
    """Values (..., *image_shape) as grey images (M, H, W): the channel mean, on the CPU, as numpy."""
    images = values.reshape(-1, *image_shape).mean(1)
    return images.cpu().numpy()


def calibration_counts(probs: Tensor, x: Tensor) -> np.ndarray:
    """Rows of [summed predicted probability, observed ones, value count] per bin of the predicted
    probability (CALIBRATION_BINS equal bins of [0, 1]), from ``probs`` (S, V) for the values ``x`` (V,) of
    0s and 1s; counted on their device, summed in float64."""
    which = (probs * CALIBRATION_BINS).to(torch.int64).clamp_(0, CALIBRATION_BINS - 1)
    sums = torch.bincount(which.reshape(-1), weights=probs.reshape(-1).double(), minlength=CALIBRATION_BINS)
    ones = torch.bincount(which[:, x > 0.5].reshape(-1), minlength=CALIBRATION_BINS)
    counts = torch.bincount(which.reshape(-1), minlength=CALIBRATION_BINS)
    return torch.stack([sums, ones.double(), counts.double()], 1).cpu().numpy()


def posterior_predictive_check(
    pair,
    x: Tensor,
    y: Tensor | None = None,
    num_samples: int = 100,
    statistics: dict | None = None,
    image_shape: tuple[int, ...] | None = None,
    keep_images: int = 16,
    max_elements: int = 2**21,
    max_latent_values: int = 2**22,
    seed: int = 0,
) -> PredictiveCheck:
    """Draw posterior and prior predictive replicates of ``x`` (N, *x_shape) and compute ``statistics``.

    ``statistics``: name -> function of (M, H, W) grey images (default: every registered one);
    ``image_shape``: (C, H, W) of the examples, or None for vector data (no image statistics).
    Runs under a private seeded random stream with no gradients (parameters are not touched).
    """
    return _check(pair, x, y, num_samples, statistics, image_shape, keep_images, max_elements, max_latent_values, seed)


def prior_predictive_check(
    pair,
    x: Tensor,
    y: Tensor | None = None,
    num_samples: int = 100,
    statistics: dict | None = None,
    image_shape: tuple[int, ...] | None = None,
    keep_images: int = 16,
    max_elements: int = 2**21,
    max_latent_values: int = 2**22,
    seed: int = 0,
) -> PredictiveCheck:
    """The prior predictive check: for every example of ``x`` (N, *x_shape), S = ``num_samples`` draws of p(x) (of
    p(x | y) with its label y for a label-conditioned model), and the statistics, p-values and flags of
    :func:`posterior_predictive_check` computed from them (``group`` is ``prior_predictive``). Needs no guide."""
    return _check(
        pair, x, y, num_samples, statistics, image_shape, keep_images, max_elements, max_latent_values, seed, True
    )


def _check(
    pair,
    x: Tensor,
    y: Tensor | None,
    num_samples: int,
    statistics: dict | None,
    image_shape: tuple[int, ...] | None,
    keep_images: int,
    max_elements: int,
    max_latent_values: int,
    seed: int,
    prior_only: bool = False,
) -> PredictiveCheck:
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"the number of predictive draws S must be a whole number >= 1, got {num_samples!r}")
    if not pair.model_contract.generates_images:
        raise ValueError(
            f"posterior predictive checks replicate whole data points x; model '{pair.model_name}' scores its "
            f"output '{pair.model_contract.observed}' instead (use importance-weighted evaluation for it)"
        )
    check_data(x, pair.model_contract.support)
    width = x[0].numel()
    if image_shape is not None and math.prod(image_shape) != width:
        raise ValueError(f"images of shape {tuple(image_shape)} need {math.prod(image_shape)} values, data has {width}")
    if image_shape is None:
        statistics = {}
    elif statistics is None:
        statistics = STATISTICS.entries()
    n, device = x.shape[0], pair.device
    batch = max(1, min(n, max_elements // (num_samples * widest_per_sample(pair, x, y))))
    # Every result is allocated once, before the first batch, and filled in place: long-lived
    # arrays made between batches would pin the allocator's heap between the batches'
    # temporaries, and it would grow with N (measured: 9.4 GB for 10,000 images, S = 100).
    observed_site = pair.model_contract.observed
    observed = {k: np.empty(n) for k in statistics}
    replicated = {k: np.empty((num_samples, n)) for k in statistics}
    prior = {} if prior_only else {k: np.empty((num_samples, n)) for k in statistics}
    log_likelihood = None if prior_only else np.empty((num_samples, n))
    shown = min(n, keep_images)
    x_rep_subset = np.empty((num_samples, shown, width), dtype=np.float64)
    latents: dict[str, np.ndarray] = {}
    bins = np.zeros((CALIBRATION_BINS, 3))
    bernoulli = True
    pixel_replicated = np.zeros((num_samples, width))

    def store(target: dict[str, np.ndarray], values: Tensor, s: slice) -> None:
        """The statistics of ``values`` (..., b, *image_shape) into ``target[name][..., s]``."""
        if not statistics:
            return
        images = grey_images(values, image_shape)
        lead = values.shape[: values.dim() - len(image_shape)]
        for name, fn in statistics.items():
            target[name][..., s] = fn(images).reshape(lead)

    with frozen(seed, device), pyro.validation_enabled(False):
        for s in batches(n, batch):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            if prior_only:
                trace = prior_predictive_trace(pair, len(xs), ys, num_samples)
                x_rep, likelihood = trace.nodes[observed_site]["value"], trace.nodes[observed_site]["fn"]
                drawn = {name: trace.nodes[name] for name in pair.model_contract.latents}
            else:
                x_rep, likelihood, guide_trace = posterior_predictive(pair, xs, ys, num_samples)
                drawn = sample_sites(guide_trace)
                log_likelihood[:, s] = likelihood.log_prob(xs).cpu().numpy()
            store(observed, xs, s)
            store(replicated, x_rep, s)
            for name, site in drawn.items():
                event = tuple(site["value"].shape[2:])
                kept = min(n, max_latent_values // (max(1, math.prod(event)) * num_samples))
                if name not in latents:
                    latents[name] = np.empty((num_samples, kept, *event))
                if s.start < kept:
                    latents[name][:, s.start : min(s.stop, kept)] = site["value"][:, : kept - s.start].cpu().numpy()
            flat_rep = x_rep.reshape(num_samples, len(xs), width)
            if s.start < shown:
                x_rep_subset[:, s.start : min(s.stop, shown)] = flat_rep[:, : shown - s.start].cpu().numpy()
            pixel_replicated += flat_rep.sum(1).cpu().numpy()
            base = likelihood.base_dist if isinstance(likelihood, dist.Independent) else likelihood
            bernoulli = bernoulli and isinstance(base, dist.Bernoulli) and not prior_only
            if bernoulli:
                bins += calibration_counts(likelihood.mean.reshape(num_samples, -1), xs.reshape(-1))
            if not prior_only:
                store(prior, prior_predictive(pair, len(xs), ys, num_samples)[0], s)

    counts = np.maximum(bins[:, 2:3], 1)
    return PredictiveCheck(
        observed=observed,
        replicated=replicated,
        prior=prior,
        p_values={k: _mid_p_values(replicated[k], observed[k]) for k in statistics},
        latents=latents,
        log_likelihood=log_likelihood,
        x_subset=x[:keep_images].reshape(-1, width).cpu().numpy(),
        x_rep_subset=x_rep_subset,
        calibration=np.column_stack([bins[:, :2] / counts, bins[:, 2]]) if bernoulli else None,
        pixel_observed=x.reshape(n, width).mean(0).cpu().numpy(),
        pixel_replicated=pixel_replicated / n,
        image_shape=None if image_shape is None else tuple(image_shape),
        note=None if image_shape is not None else NO_IMAGE_NOTE,
        group="prior_predictive" if prior_only else "posterior_predictive",
    )


def summarize(check: PredictiveCheck) -> dict[str, dict]:
    """Per statistic, the figures of the check's JSON (see :data:`PPC_KEYS`)."""
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


def to_inference_data(check: PredictiveCheck):
    """The check as ArviZ data (``InferenceData`` under ArviZ 0.x, ``DataTree`` under 1.x) with one chain: see
    docs/checks.md for groups and dims. A prior predictive check has ``prior`` (z), ``prior_predictive`` and
    ``observed_data``; a posterior one ``posterior``, ``posterior_predictive``, ``prior_predictive``,
    ``observed_data`` and ``log_likelihood``."""

    def chain(values: np.ndarray) -> np.ndarray:
        return values[None]

    stats = list(check.observed)
    dims = {name: ["example"] for name in stats}
    dims.update({"x_rep": ["image", "pixel"], "x_subset": ["image", "pixel"], "x": ["example"]})
    latents = {}
    for site, values in check.latents.items():
        latents[site] = chain(values.reshape(*values.shape[:2], -1))
        dims[site] = ["latent_example", f"{site}_dim"]
    replicated = {**{k: chain(v) for k, v in check.replicated.items()}, "x_rep": chain(check.x_rep_subset)}
    observed = {**check.observed, "x_subset": check.x_subset}
    if check.group == "prior_predictive":
        groups = {"prior": latents, "prior_predictive": replicated, "observed_data": observed}
    else:
        groups = {
            "posterior": latents,
            "posterior_predictive": replicated,
            "prior_predictive": {k: chain(v) for k, v in check.prior.items()},
            "observed_data": observed,
            "log_likelihood": {"x": chain(check.log_likelihood)},
        }
    sizes = [len(v) for v in check.observed.values()] or (
        [] if check.log_likelihood is None else [check.log_likelihood.shape[1]]
    )
    coords = {"example": np.arange(sizes[0])} if sizes else None
    return from_groups(groups, dims=dims, coords=coords)


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
