"""The log-likelihood of a trained pair per example, by importance weighting, with its diagnostics.

The estimate runs under ``torch.no_grad`` and on a forked random-number stream seeded by the
caller: parameters, gradients and the global random state are the same after a call as before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.inference_data import pareto_khat
from ppl_vae.core.progress import Progress
from ppl_vae.data.checks import check_data
from ppl_vae.infer.bounds import refuse_non_density
from ppl_vae.infer.direct_weights import agrees_with_traced_route, direct_log_weights, shipped_family
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import PROBE_SIZE
from ppl_vae.infer.sizing import DEFAULT_MAX_ELEMENTS, batches, chunk_sizes, widest_per_sample
from ppl_vae.infer.weights import sample_sites, site_means, traced_log_weights

MIN_SAMPLES_FOR_KHAT = 25
KHAT_THRESHOLD = 0.7


@dataclass
class ImportanceWeightedEstimate:
    r"""Per-example results of :func:`importance_weighted_log_likelihood`, all shaped (N,).

    - ``log_likelihood``: :math:`\log \hat p(x) = \operatorname{logsumexp}_k \log w_k - \log K`,
      nats; a stochastic lower bound on log p(x) in expectation (the IWAE bound), tight as K grows.
    - ``standard_error``: Monte Carlo standard error of ``log_likelihood`` by the delta method,
      :math:`\operatorname{sd}(w) / (\sqrt{K}\,\bar w)`; unreliable itself when k-hat is high.
    - ``ess``: effective sample size of the weights, :math:`(\sum w)^2 / \sum w^2`, between 1 and K.
    - ``khat``: Pareto k-hat of the weights (PSIS). Above 0.7 the weights' tail is so
      heavy that the estimate, and its standard error, should not be trusted (Vehtari et al. 2024).
      NaN when K < 25: too few weights to fit the tail (PSIS uses the largest 20%, at least 5), and
      where all K weights are equal (a model without latents: the estimate is exact).
    - ``elbo``: the mean of the K log-weights: the ELBO estimated from the same samples.
    - ``latent_means``: per latent site, its posterior mean E_q[z | x], (N, *event shape): the mean of the
      guide's distribution where it is tractable (exact: the same for every K), else averaged over the K
      particles (the conditional means of a site whose distribution depends on other sampled sites, or the
      draws themselves where no mean is tractable, such as a flow's).
    - ``latent_mean_variance``: per latent site, the Monte Carlo variance of that mean, (N, *event shape):
      0 where the mean is exact. Active units subtract it, so that their count does not depend on K.
    - ``kl_per_dim``: per latent site whose guide and prior have per-dimension marginals in closed form (products
      of per-dimension distributions; full-covariance Gaussians), the Monte Carlo KL(q(z_j|x) || p(z_j)) of the
      marginals of each dimension j, (N, dims); sites without are absent (``likelihood_summary`` says why).
    - ``exact``: True for a model without latents, whose log-likelihood is computed exactly (K = 1).

    All tensors are on the CPU.
    """

    log_likelihood: Tensor
    standard_error: Tensor
    ess: Tensor
    khat: Tensor
    elbo: Tensor
    latent_means: dict[str, Tensor]
    latent_mean_variance: dict[str, Tensor]
    kl_per_dim: dict[str, Tensor]
    num_samples: int
    exact: bool = False


def marginals(distribution: dist.Distribution) -> dist.Distribution | None:
    """The per-dimension marginals of a distribution over vectors, as one distribution with one batch dimension
    more (log_prob of a (..., D) value gives (..., D)): the factors of a product (``Independent``), the Normal
    marginals of a ``MultivariateNormal``; None where they are not known in closed form (a flow, a mixture)."""
    if isinstance(distribution, dist.Independent):
        return distribution.base_dist
    if isinstance(distribution, dist.MultivariateNormal):
        return dist.Normal(distribution.loc, distribution.covariance_matrix.diagonal(dim1=-2, dim2=-1).sqrt())
    return None


def _per_dim_kl(guide_site: dict, model_site: dict) -> Tensor | None:
    """(K, n, dims) log q(z_j|x) - log p(z_j) of the marginals per dimension j (a Monte Carlo term of the marginal
    KL(q(z_j|x) || p(z_j))), or None where either side's marginals are not known in closed form."""
    q, p = marginals(guide_site["fn"]), marginals(model_site["fn"])
    if q is None or p is None:
        return None
    value = guide_site["value"]
    difference = q.log_prob(value) - p.log_prob(value)
    return difference.reshape(*difference.shape[:2], -1)


def log_weight_route(pair: Pair, x: Tensor, y: Tensor | None):
    """The function ``(x, y, K) -> (log-weights (K, N), guide sites, model sites)`` the estimator uses: the direct
    route of ``ppl_vae.infer.direct_weights`` for the shipped family when it agrees with the traced route on
    ``x`` (the first chunk, a few particles), else the traced route of ``ppl_vae.infer.weights``."""
    if shipped_family(pair) and agrees_with_traced_route(pair, x, y, 3, seed=0):
        return lambda xs, ys, k: direct_log_weights(pair, xs, ys, k)

    def traced(xs: Tensor, ys: Tensor | None, k: int):
        lw, guide_trace, model_trace = traced_log_weights(
            pair.model, pair.guide, xs, ys, k, False, pair.max_plate_nesting
        )
        return lw, sample_sites(guide_trace), sample_sites(model_trace)

    return traced


def importance_weighted_log_likelihood(
    pair: Pair,
    x: Tensor,
    y: Tensor | None = None,
    num_samples: int = 5000,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    seed: int = 0,
    progress: bool = False,
) -> ImportanceWeightedEstimate:
    r"""Estimate log p(x) per example by importance sampling with the guide as proposal.

    For each example, K = ``num_samples`` latents z_k ~ q(z | x) give
    :math:`\log w_k = \log p(x, z_k) - \log q(z_k \mid x)` (unscaled log-densities: correct
    for models trained with KL warm-up, beta or subsampling) and
    :math:`\log \hat p(x) = \operatorname{logsumexp}_k \log w_k - \log K`.
    The guide is traced inside a vectorized particle plate and the model replayed on its
    samples (``ppl_vae.infer.weights``), keeping the data dimension; for the shipped model/guide family
    the same log-weights are computed from the pair's own methods without tracing
    (``ppl_vae.infer.direct_weights``), once they agree with the traced route on the first chunk. Work is
    cut into chunks of
    examples and particles with chunk_examples * chunk_particles * W <= ``max_elements``, W the
    most numbers any network makes per sample (:func:`widest_per_sample`; at least the C * H * W
    of an image); peak memory is a few times 4 * max_elements bytes. All K log-weights of
    a chunk of examples are kept for k-hat. On dequantized data the model's likelihood draws
    its dequantization noise per particle (``ppl_vae.models.likelihood``): the estimate is a
    bound on the discrete log-probability.

    ``x``: (N, *x_shape) data; ``y``: labels (N,) or outputs (N, *y_shape), or None. The
    model's observed field (``x``, or ``y`` for structured-output models) is what is scored:
    the estimate is then log p(x | y) or log p(y | x). A model without latents is scored
    exactly (``exact`` is True, K = 1). A guide that is not a density is refused.
    Runs under :func:`~ppl_vae.core.devices.frozen`: parameters and the random streams are left as they were.

    .. warning:: The estimate is biased low for finite K and its error bar comes from the
       same weights: when ``khat`` > 0.7 neither is reliable; raise K or improve the guide.

    Reference: Y. Burda, R. Grosse, R. Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016.
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"the number of importance samples K must be a whole number >= 1, got {num_samples!r}")
    refuse_non_density(pair)
    contract = pair.model_contract
    exact = not contract.latent
    num_samples = 1 if exact else num_samples
    scored = pair.scored(x, y)
    check_data(scored, contract.support, what=f"the scored data {contract.observed}")
    device = pair.device
    pair.check(x[:PROBE_SIZE], None if y is None else y[:PROBE_SIZE])
    n, width = x.shape[0], max(scored[0].numel(), widest_per_sample(pair, x, y))
    n_chunk, k_chunk = chunk_sizes(n, num_samples, width, max_elements)
    # Results are allocated once and filled in place (see ppl_vae.evaluation.ppc: arrays made between chunks
    # would pin the allocator's heap between the chunks' temporaries).
    log_w = torch.empty(num_samples, n, dtype=x.dtype)  # (K, N)
    latent_means: dict[str, Tensor] = {}
    latent_mean_variance: dict[str, Tensor] = {}
    kl_per_dim: dict[str, Tensor] = {}
    chunks = list(batches(n, n_chunk))
    with (
        frozen(seed, device),
        pyro.validation_enabled(False),
        Progress(
            f"importance sampling, K={num_samples}", len(chunks), unit="chunk", step_lines=True, enabled=progress
        ) as bar,
    ):
        route = log_weight_route(pair, x[chunks[0]].to(device), None if y is None else y[chunks[0]].to(device))
        for s in chunks:
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            sums, squares, kls = {}, {}, {}
            for k in range(0, num_samples, k_chunk):
                k_now = min(k_chunk, num_samples - k)
                lw, guide_sites, model_sites = route(xs, ys, k_now)
                log_w[k : k + k_now, s] = lw.cpu()
                for name, site in guide_sites.items():
                    means = site_means(site)[0]
                    sums[name] = sums.get(name, 0) + means.sum(0)
                    squares[name] = squares.get(name, 0) + means.square().sum(0)
                    kl = _per_dim_kl(site, model_sites[name])
                    if kl is not None:
                        kls[name] = kls.get(name, 0) + kl.sum(0)
            spread = {
                name: ((squares[name] - sums[name].square() / num_samples) / max(num_samples - 1, 1)).clamp(min=0)
                / num_samples
                for name in sums
            }
            for results, totals in ((latent_means, sums), (kl_per_dim, kls)):
                for name, total in totals.items():
                    if name not in results:
                        results[name] = torch.empty(n, *total.shape[1:], dtype=total.dtype)
                    results[name][s] = (total / num_samples).cpu()
            for name, variance in spread.items():
                if name not in latent_mean_variance:
                    latent_mean_variance[name] = torch.empty(n, *variance.shape[1:], dtype=variance.dtype)
                latent_mean_variance[name][s] = variance.cpu()
            bar.step()
    log_mean_w = torch.logsumexp(log_w, 0) - math.log(num_samples)
    w = torch.exp(log_w - log_w.max(0).values)
    mean_w, mean_w2 = w.mean(0), (w**2).mean(0)
    khat = torch.full((n,), math.nan, dtype=log_w.dtype)
    if num_samples >= MIN_SAMPLES_FOR_KHAT:
        khat = torch.as_tensor(pareto_khat(log_w.T.double().numpy()), dtype=log_w.dtype)
        khat[log_w.max(0).values == log_w.min(0).values] = math.nan  # equal weights: exact, no tail to fit
    return ImportanceWeightedEstimate(
        log_likelihood=log_mean_w,
        standard_error=((mean_w2 - mean_w**2).clamp(min=0) / num_samples).sqrt() / mean_w,
        ess=num_samples * mean_w**2 / mean_w2,
        khat=khat.reshape(n),
        elbo=log_w.mean(0),
        latent_means=latent_means,
        latent_mean_variance=latent_mean_variance,
        kl_per_dim=kl_per_dim,
        num_samples=num_samples,
        exact=exact,
    )


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    """-log p in bits per dimension: -nats / (D ln 2), D the width of what is scored (lower is better)."""
    return -nats_per_example / (dim * math.log(2))


def mean_and_error(values: Tensor) -> tuple[float, float]:
    """Mean over examples and its standard error over the data, std / sqrt(N)."""
    n = values.numel()
    return values.mean().item(), (values.std().item() / math.sqrt(n)) if n > 1 else math.nan


ACTIVE_UNIT_THRESHOLD = 0.01


def active_units(means: Tensor, mean_variance: Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Latent dimensions whose posterior mean varies over the data by more than ``threshold`` (Burda et al. 2016,
    Appendix B): Var_x(E_q[z_j | x]) > 0.01, from ``means`` (N, *event) and their Monte Carlo variances
    (N, *event), whose average over the data is subtracted from the spread of the means (an unbiased estimate of
    the spread of the exact means, whatever K the means were estimated with)."""
    flat_means, flat_noise = means.reshape(means.shape[0], -1), mean_variance.reshape(means.shape[0], -1)
    return int((flat_means.var(0) - flat_noise.mean(0) > threshold).sum())


def likelihood_summary(estimate: ImportanceWeightedEstimate, dim: int) -> dict:
    """The figures of ``ppl-vae evaluate`` (``evaluation-*.json``; keys in :data:`EVALUATION_KEYS`) from an estimate."""
    elbo, elbo_se = mean_and_error(estimate.elbo)
    iw, iw_se = mean_and_error(estimate.log_likelihood)
    khat = estimate.khat
    known = khat[~torch.isnan(khat)]
    return {
        "num_examples": estimate.log_likelihood.numel(),
        "iw_samples": estimate.num_samples,
        "exact": estimate.exact,
        "elbo_nats": elbo,
        "elbo_standard_error": elbo_se,
        "iw_log_likelihood_nats": iw,
        "iw_standard_error": iw_se,
        "iw_monte_carlo_error": (estimate.standard_error**2).mean().sqrt().item() / math.sqrt(khat.numel()),
        "iw_bits_per_dim": bits_per_dim(iw, dim),
        "elbo_bits_per_dim": bits_per_dim(elbo, dim),
        "gap_nats": iw - elbo,
        "khat_above_0.7_share": (known > KHAT_THRESHOLD).float().mean().item() if known.numel() else None,
        "khat_median": known.median().item() if known.numel() else None,
        "khat_max": known.max().item() if known.numel() else None,
        "ess_median": estimate.ess.median().item(),
        "active_units": {
            name: active_units(means, estimate.latent_mean_variance[name])
            for name, means in estimate.latent_means.items()
        },
        "kl_per_dim": {name: kl.mean(0).tolist() for name, kl in estimate.kl_per_dim.items()},
        "kl_per_dim_absent": {
            name: "the guide's or the prior's marginals per dimension are not known in closed form"
            for name in estimate.latent_means
            if name not in estimate.kl_per_dim
        },
    }


EVALUATION_KEYS = {
    "num_examples": "N, examples evaluated",
    "iw_samples": "K, importance samples per example (1 when exact)",
    "exact": "true for a model without latent variables: its log-likelihood is computed exactly",
    "elbo_nats": "mean ELBO over examples (from the same K samples), nats per example",
    "elbo_standard_error": "standard error of that mean over the data, std / sqrt(N)",
    "iw_log_likelihood_nats": "mean importance-weighted log-likelihood log p̂(x), nats per example (a lower bound "
    "in expectation that rises towards log p(x) as K grows)",
    "iw_standard_error": "standard error of that mean over the data, std / sqrt(N)",
    "iw_monte_carlo_error": "Monte Carlo error of that mean from the weights alone (delta method)",
    "iw_bits_per_dim": "-iw_log_likelihood_nats / (D ln 2)",
    "elbo_bits_per_dim": "-elbo_nats / (D ln 2)",
    "gap_nats": "iw_log_likelihood_nats - elbo_nats: how loose the ELBO is (grows with K, as the IW bound does)",
    "khat_above_0.7_share": "share of examples whose Pareto k-hat > 0.7: do not trust their estimate (null if K < 25)",
    "khat_median": "median Pareto k-hat",
    "khat_max": "largest Pareto k-hat",
    "ess_median": "median effective sample size of the weights (1..K: it grows with K; compare ess_median / K)",
    "active_units": "per latent site: dimensions whose posterior mean varies over the data by more than 0.01 (the "
    "guide's exact mean where tractable, else with the Monte Carlo variance removed: it does not depend on K)",
    "kl_per_dim": "per latent site: mean over examples of KL(q(z_j|x) || p(z_j)) per dimension, nats, of the "
    "marginals of each dimension (Monte Carlo over the K draws: unbiased for every K)",
    "kl_per_dim_absent": "latent sites without kl_per_dim, and why (marginals not known in closed form, as a flow's)",
}


def khat_warning(summary: dict) -> str | None:
    """A sentence to print when some estimates have k-hat > 0.7, else None."""
    share = summary.get("khat_above_0.7_share")
    if share:
        return (
            f"warning: Pareto k-hat > 0.7 for {100 * share:.1f}% of examples (max {summary['khat_max']:.2f}): "
            "their importance weights are too heavy-tailed for the estimate or its error bar to be trusted; "
            "raise K or improve the guide"
        )
    return None
