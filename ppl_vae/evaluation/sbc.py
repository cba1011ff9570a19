"""Simulation-based calibration of an amortized guide (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

M simulations z* ~ p(z), x ~ p(x | z*) from the model; for each, L draws from the guide q(z | x) and the
rank of each coordinate of z* among them, r = #{l : z_l < z*} (ties, which only a discrete site or a
repeated draw makes, broken at random), in 0 .. L. When q(z | x) is the posterior p(z | x), z* is a draw
from it too, and every rank is uniform on 0 .. L (Cook, Gelman & Rubin 2006): an over-confident guide
piles the ranks at 0 and L, an under-confident one in the middle, a biased one on one side. The same
ranks are taken for the importance-resampled posterior: K proposals from q, weighted by
w = p(x, z) / q(z | x), L of them drawn by weight (sampling importance resampling, Rubin 1988), which
approaches p(z | x) as K grows where the weights' Pareto k-hat is small.

Reported per latent site and coordinate: a chi-squared test of the ranks against the discrete uniform
(in bins of nearly equal width, their expected counts exact), with Bonferroni's correction over the
coordinates of a site (any rejection at 5% after correction flags the site; without it, 5% of the
coordinates of a calibrated guide would be flagged); the PIT (r + u) / (L + 1), u ~ U[0, 1), which is
exactly U[0, 1) under calibration and is what ArviZ's ECDF-difference plots read (group ``prior_sbc``);
the coverage of central intervals: the share of coordinates of z* inside the central interval of level
a of the draws, |PIT - 1/2| <= a / 2, which is a under calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyro
import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.inference_data import from_groups, pareto_khat
from ppl_vae.evaluation.likelihood import KHAT_THRESHOLD, MIN_SAMPLES_FOR_KHAT
from ppl_vae.infer.bounds import refuse_non_density
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import DEFAULT_MAX_ELEMENTS, batches, widest_per_sample
from ppl_vae.infer.weights import traced_log_weights, vectorized

LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)  # central-interval levels whose coverage is reported
ALPHA = 0.05  # family-wise level of each site's uniformity test
MAX_BINS = 20
MIN_EXPECTED = 5  # expected count per bin of the chi-squared test
EQUAL_WEIGHTS = 1e-4  # nats: weights closer than this are equal (q is the posterior): they have no tail to fit
APPROXIMATIONS = ("guide", "resampled")  # the guide's draws; the importance-resampled draws


@dataclass
class CalibrationRanks:
    """Results of :func:`simulation_based_calibration`; arrays are numpy.

    ``truth[site]`` (M, dims): the simulated z*, flattened per simulation; ``ranks[kind][site]`` (M, dims):
    integer ranks in 0 .. L, ``pit[kind][site]`` (M, dims): (rank + u) / (L + 1), for ``kind`` in
    :data:`APPROXIMATIONS` (``resampled`` absent when ``proposals`` is 0); ``khat`` (M,): Pareto k-hat of each
    simulation's K importance weights (NaN when K < 25, and where the weights are equal: q is the posterior);
    ``num_draws`` L, ``proposals`` K.
    """

    truth: dict[str, np.ndarray]
    ranks: dict[str, dict[str, np.ndarray]]
    pit: dict[str, dict[str, np.ndarray]]
    khat: np.ndarray
    num_draws: int
    proposals: int


def _flat(values: Tensor, lead: int) -> Tensor:
    """``values`` (*lead dims, *event) as (*lead dims, event size)."""
    return values.reshape(*values.shape[:lead], -1)


def _ranks(draws: Tensor, truth: Tensor) -> Tensor:
    """Ranks (n, dims) of ``truth`` (n, dims) among ``draws`` (L, n, dims), ties broken uniformly at random."""
    below = (draws < truth).sum(0)
    ties = (draws == truth).sum(0)
    return below + torch.floor(torch.rand(ties.shape, device=ties.device) * (ties + 1)).to(below.dtype)


def simulation_based_calibration(
    pair: Pair,
    num_simulations: int = 1000,
    num_draws: int = 100,
    proposals: int = 1000,
    y: Tensor | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    seed: int = 0,
) -> CalibrationRanks:
    """Ranks of M = ``num_simulations`` prior draws z* among L = ``num_draws`` draws of the guide (and of the
    importance-resampled posterior with K = ``proposals`` proposals; 0: not computed) given x ~ p(x | z*).

    ``y``: labels (M,) for a label-conditioned model (z* ~ p(z | y), x ~ p(x | z*, y), q(z | x, y)), else None.
    Work is cut into batches of simulations whose max(L, K) draws make at most ``max_elements`` numbers in any
    network. Runs under :func:`~ppl_vae.core.devices.frozen` (parameters and random streams as they were).
    Raises :class:`~ppl_vae.core.errors.MeasureError` for a model without latents or without a density, or a
    guide that is not a density. Reference: Talts et al., Validating Bayesian inference algorithms with
    simulation-based calibration, arXiv:1804.06788 (2018), Algorithm 1.
    """
    for value, name in ((num_simulations, "num_simulations"), (num_draws, "num_draws")):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if not isinstance(proposals, int) or proposals < 0:
        raise ValueError(f"proposals must be a whole number >= 0, got {proposals!r}")
    refuse_non_density(pair)
    latents, observed = pair.model_contract.latents, pair.model_contract.observed
    device, nesting = pair.device, pair.max_plate_nesting
    truth: dict[str, list[Tensor]] = {site: [] for site in latents}
    ranks = {kind: {site: [] for site in latents} for kind in APPROXIMATIONS[: 1 + bool(proposals)]}
    pit = {kind: {site: [] for site in latents} for kind in ranks}
    khat = np.full(num_simulations, math.nan)
    with frozen(seed, device), pyro.validation_enabled(False), torch.no_grad():
        probe = poutine.trace(pair.model).get_trace(None, y=None if y is None else y[:1].to(device), num_samples=1)
        width = widest_per_sample(pair, probe.nodes[observed]["value"], None if y is None else y[:1].to(device))
        batch = max(1, max_elements // (max(num_draws, proposals) * width))
        for s in batches(num_simulations, batch):
            ys = None if y is None else y[s].to(device)
            simulated = poutine.trace(pair.model).get_trace(None, y=ys, num_samples=s.stop - s.start)
            x = simulated.nodes[observed]["value"]
            stars = {site: _flat(simulated.nodes[site]["value"], 1) for site in latents}
            guide_trace = poutine.trace(vectorized(pair.guide, num_draws, nesting)).get_trace(x, y=ys)
            draws = {"guide": {site: _flat(guide_trace.nodes[site]["value"], 2) for site in latents}}
            if proposals:
                log_w, proposal_trace, _ = traced_log_weights(pair.model, pair.guide, x, ys, proposals, False, nesting)
                chosen = torch.multinomial(torch.softmax(log_w.T.double(), -1), num_draws, replacement=True).T
                draws["resampled"] = {}
                for site in latents:
                    values = _flat(proposal_trace.nodes[site]["value"], 2)
                    index = chosen[..., None].expand(-1, -1, values.shape[-1])
                    draws["resampled"][site] = values.gather(0, index)
                if proposals >= MIN_SAMPLES_FOR_KHAT:
                    spread = (log_w.max(0).values - log_w.min(0).values).cpu().numpy()
                    khat[s] = np.where(spread > EQUAL_WEIGHTS, pareto_khat(log_w.T.cpu().numpy()), math.nan)
            for site, star in stars.items():
                truth[site].append(star.cpu())
                for kind in ranks:
                    rank = _ranks(draws[kind][site], star)
                    ranks[kind][site].append(rank.cpu())
                    jitter = torch.rand(rank.shape, device=device, dtype=star.dtype)
                    pit[kind][site].append(((rank + jitter) / (num_draws + 1)).cpu())

    def joined(parts: list[Tensor]) -> np.ndarray:
        return torch.cat(parts).numpy()

    return CalibrationRanks(
        truth={site: joined(parts) for site, parts in truth.items()},
        ranks={kind: {site: joined(parts) for site, parts in sites.items()} for kind, sites in ranks.items()},
        pit={
            kind: {site: joined(parts).astype(np.float64) for site, parts in sites.items()}
            for kind, sites in pit.items()
        },
        khat=khat,
        num_draws=num_draws,
        proposals=proposals,
    )


def rank_bins(num_draws: int, num_simulations: int) -> list[np.ndarray]:
    """The rank values 0 .. L cut into at most :data:`MAX_BINS` consecutive bins of nearly equal width, as many as
    keep :data:`MIN_EXPECTED` simulations per bin (at least 2)."""
    count = max(2, min(MAX_BINS, num_draws + 1, num_simulations // MIN_EXPECTED))
    return np.array_split(np.arange(num_draws + 1), count)


def uniformity_p_values(ranks: np.ndarray, num_draws: int) -> np.ndarray:
    """Per coordinate, the p-value of Pearson's chi-squared test of ``ranks`` (M, dims) in 0 .. L against the
    discrete uniform, over the bins of :func:`rank_bins` with their exact expected counts: (dims,)."""
    from scipy.stats import chisquare

    m = ranks.shape[0]
    bins = rank_bins(num_draws, m)
    edges = np.array([b[0] for b in bins] + [num_draws + 1])
    expected = np.array([len(b) for b in bins]) * m / (num_draws + 1)
    observed = np.stack([np.histogram(column, bins=edges)[0] for column in ranks.T])  # (dims, bins)
    return np.asarray(chisquare(observed, expected[None], axis=1).pvalue)


def coverage(pit: np.ndarray, levels: tuple[float, ...] = LEVELS) -> dict[str, float]:
    """Share of values of ``pit`` (M, dims) inside the central interval of each level a, |PIT - 1/2| <= a / 2."""
    distance = np.abs(pit - 0.5)
    return {f"{level:g}": float((distance <= level / 2).mean()) for level in levels}


def summarize(result: CalibrationRanks, alpha: float = ALPHA) -> dict:
    """Per approximation and latent site, the figures of ``sbc-*.json`` (keys in :data:`SBC_KEYS`)."""
    summary = {}
    for kind, sites in result.ranks.items():
        summary[kind] = {}
        for site, ranks in sites.items():
            p = uniformity_p_values(ranks, result.num_draws)
            dims = p.size
            per_dim = [coverage(column[:, None]) for column in result.pit[kind][site].T]
            summary[kind][site] = {
                "dimensions": dims,
                "uniformity_p_values": p.tolist(),
                "min_p_value": float(p.min()),
                "bonferroni_p_value": float(min(1.0, p.min() * dims)),
                "rejected_dimensions": int((p * dims < alpha).sum()),
                "uncorrected_rejections": int((p < alpha).sum()),
                "uniform": bool(p.min() * dims >= alpha),
                "coverage": coverage(result.pit[kind][site]),
                "coverage_range": {
                    level: [min(c[level] for c in per_dim), max(c[level] for c in per_dim)] for level in per_dim[0]
                },
                "mean_rank_share": float(ranks.mean() / result.num_draws),
            }
    known = result.khat[~np.isnan(result.khat)]
    summary["khat_above_0.7_share"] = float((known > KHAT_THRESHOLD).mean()) if known.size else None
    summary["khat_median"] = float(np.median(known)) if known.size else None
    return summary


SBC_KEYS = {
    "dimensions": "coordinates of the latent site",
    "uniformity_p_values": "per coordinate, the p-value of the chi-squared test of its M ranks against the uniform",
    "min_p_value": "the smallest of those p-values",
    "bonferroni_p_value": "min_p_value times the number of coordinates (at most 1): the site's family-wise p-value",
    "rejected_dimensions": "coordinates whose p-value is below 0.05 after Bonferroni's correction",
    "uncorrected_rejections": "coordinates whose p-value is below 0.05 without correction (5% of them are expected "
    "for a calibrated guide)",
    "uniform": "true when no coordinate is rejected after correction (family-wise false-alarm rate 5%)",
    "coverage": "per level a, the share of coordinates of z* inside the central interval of level a of the draws "
    "(a under calibration; below a: over-confident)",
    "coverage_range": "per level, the lowest and highest coverage over the coordinates",
    "mean_rank_share": "mean rank / L: 0.5 under calibration; below, the draws lie above z* (bias up)",
    "khat_above_0.7_share": "share of simulations whose K importance weights have Pareto k-hat > 0.7: where the "
    "resampled posterior cannot be trusted (null when K < 25)",
    "khat_median": "median Pareto k-hat of the simulations' weights",
}


def to_inference_data(result: CalibrationRanks):
    """The ranks as ArviZ data (``InferenceData`` or ``DataTree``, see ``ppl_vae.core.inference_data``), one chain
    whose draws are the M simulations: ``prior`` (z* per site, dims (chain, draw, <site>_dim)), ``prior_sbc``
    (the PIT of each site, and ``<site>_resampled`` for the importance-resampled draws: what ArviZ 1.x's
    ``plot_ecdf_pit`` reads), ``sbc_ranks`` (the integer ranks, same names), ``sample_stats_prior`` (``khat``
    per simulation); attributes ``num_draws`` (L) and ``proposals`` (K)."""

    def named(values: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {
            site if kind == "guide" else f"{site}_{kind}": array[None]
            for kind, sites in values.items()
            for site, array in sites.items()
        }

    dims = {}
    for site in result.truth:
        for name in (site, *(f"{site}_{kind}" for kind in APPROXIMATIONS[1:])):
            dims[name] = [f"{site}_dim"]
    groups = {
        "prior": {site: values[None] for site, values in result.truth.items()},
        "prior_sbc": named(result.pit),
        "sbc_ranks": named(result.ranks),
        "sample_stats_prior": {"khat": result.khat[None]},
    }
    return from_groups(groups, dims=dims, attrs={"num_draws": result.num_draws, "proposals": result.proposals})


def format_table(summary: dict) -> list[str]:
    """Lines of a table: per approximation and site, the uniformity test, the rejections and the coverage."""
    levels = [f"{level:g}" for level in LEVELS]
    lines = [
        f"  {'draws':<10} {'site':<8} {'p (Bonferroni)':>14} {'rejected':>9} " + " ".join(f"{lv:>6}" for lv in levels)
    ]
    for kind in APPROXIMATIONS:
        for site, row in summary.get(kind, {}).items():
            flag = "" if row["uniform"] else "  <- NOT CALIBRATED"
            rejected = f"{row['rejected_dimensions']}/{row['dimensions']}"
            cover = " ".join(f"{row['coverage'][lv]:>6.3f}" for lv in levels)
            lines.append(f"  {kind:<10} {site:<8} {row['bonferroni_p_value']:>14.3g} {rejected:>9} {cover}{flag}")
    return lines
