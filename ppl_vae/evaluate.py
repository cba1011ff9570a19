"""Evaluation that never changes what it evaluates.

Everything here runs under ``torch.no_grad`` and on a forked random-number stream
seeded by the caller: parameters, gradients and the global RNG state are the same
after a call as before it, so evaluating during training cannot change the training.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor

from ppl_vae.data.checks import check_data
from ppl_vae.device import frozen
from ppl_vae.errors import MeasureError
from ppl_vae.objectives import KLWeight
from ppl_vae.pair import Pair
from ppl_vae.pairing import PROBE_SIZE
from ppl_vae.progress import Progress
from ppl_vae.weights import log_weights, per_example, sample_sites, traced_log_weights


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``batch_size``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def refuse_non_density(pair: Pair) -> None:
    """A :class:`MeasureError` when the pair's model is implicit (a GAN's generator) or its guide is not a
    density (a deterministic encoder)."""
    if not pair.model_contract.density:
        raise MeasureError(
            f"the model '{pair.model_name}' is implicit (a generator without a likelihood): it draws samples but "
            "gives no log p(x) to estimate; measure it by its samples (ppl-vae sample, ppl-vae quality)"
        )
    if not pair.guide_contract.density:
        raise MeasureError(
            f"the guide '{pair.guide_name}' is a deterministic encoder, not a density: importance weighting "
            "cannot estimate log p(x) from it; its figures are reconstructions (reconstructions.png, and the "
            "reconstruction error in summary.json)"
        )


def bound_per_example(
    pair: Pair,
    x: Tensor,
    y: Tensor | None = None,
    num_particles: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
    beta: float | None = None,
) -> Tensor:
    """Importance-weighted bound log (1/K) sum_k w_k per example, K = ``num_particles``: (N,) nats.

    ``batch_size``: examples per pass; by default as many as keep every network's numbers for their K
    particles within DEFAULT_MAX_ELEMENTS (:func:`examples_per_batch`).

    With K = 1 this is a single-sample ELBO estimate, log p(x, z) - log q(z | x), z ~ q.
    Unscaled log-densities: the true bound whatever beta the pair was trained with; with
    ``beta``, the latent terms are weighted by it instead (the training objective of a
    beta-weighted or deterministic-encoder pair, which bounds nothing). ``x`` and ``y`` may
    live on any device; batches move to the pair's.
    """
    device = pair.device
    batch_size = batch_size or examples_per_batch(pair, x, y, num_particles)
    weighting = KLWeight(beta) if beta is not None else contextlib.nullcontext()
    with frozen(seed, device), weighting:
        bounds = []
        for s in batches(x.shape[0], batch_size):
            lw = log_weights(
                pair.model,
                pair.guide,
                x[s].to(device),
                None if y is None else y[s].to(device),
                num_particles,
                scaled=beta is not None,
                max_plate_nesting=pair.max_plate_nesting,
            )
            bounds.append(torch.logsumexp(lw, 0) - math.log(num_particles))
        return torch.cat(bounds)


def elbo_per_example(
    pair: Pair, x: Tensor, y: Tensor | None = None, batch_size: int | None = None, seed: int = 0
) -> Tensor:
    """Single-sample ELBO estimate per example: (N,) nats (:func:`bound_per_example` with K = 1)."""
    return bound_per_example(pair, x, y, 1, batch_size, seed)


def reconstruction_log_likelihood(
    pair: Pair, x: Tensor, y: Tensor | None = None, batch_size: int | None = None, seed: int = 0
) -> Tensor:
    """log p(obs | z) with one z ~ q(z | x) per example: (N,) nats, the reconstruction term of the ELBO
    (the whole objective of an autoencoder, whose guide is deterministic); batches as in :func:`bound_per_example`."""
    device, observed = pair.device, pair.model_contract.observed
    batch_size = batch_size or examples_per_batch(pair, x, y, 1)
    with frozen(seed, device):
        parts = []
        for s in batches(x.shape[0], batch_size):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            _, _, model_trace = traced_log_weights(pair.model, pair.guide, xs, ys, 1, False, pair.max_plate_nesting)
            parts.append(per_example(model_trace.nodes[observed], "unscaled_log_prob", (1, xs.shape[0]))[0].cpu())
        return torch.cat(parts)


DEFAULT_MAX_ELEMENTS = 2**22  # 16 MiB per float32 tensor: measured fastest on 2 cores (iw_speed.py)
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
    - ``khat``: Pareto k-hat of the weights (``arviz.psislw``). Above 0.7 the weights' tail is so
      heavy that the estimate, and its standard error, should not be trusted (Vehtari et al. 2024).
      NaN when K < 25: too few weights to fit the tail (PSIS uses the largest 20%, at least 5), and
      where all K weights are equal (a model without latents: the estimate is exact).
    - ``elbo``: the mean of the K log-weights: the ELBO estimated from the same samples.
    - ``latent_means``: per latent site, the mean of its K samples, (N, *event shape): a Monte Carlo
      posterior mean, used to count active units.
    - ``kl_per_dim``: per latent site whose guide and prior factorize (``Independent``),
      the Monte Carlo KL(q(z_j|x) || p(z_j)) of each dimension j, (N, dims).
    - ``exact``: True for a model without latents, whose log-likelihood is computed exactly (K = 1).

    All tensors are on the CPU.
    """

    log_likelihood: Tensor
    standard_error: Tensor
    ess: Tensor
    khat: Tensor
    elbo: Tensor
    latent_means: dict[str, Tensor]
    kl_per_dim: dict[str, Tensor]
    num_samples: int
    exact: bool = False


def _per_dim_kl(guide_site: dict, model_site: dict) -> Tensor | None:
    """(K, n, dims) log q(z_j|x) - log p(z_j), or None if either side does not factorize."""
    q, p = guide_site["fn"], model_site["fn"]
    if not (isinstance(q, dist.Independent) and isinstance(p, dist.Independent)):
        return None
    value = guide_site["value"]
    difference = q.base_dist.log_prob(value) - p.base_dist.log_prob(value)
    return difference.reshape(*difference.shape[:2], -1)


def widest_per_sample(pair: Pair, x: Tensor, y: Tensor | None = None) -> int:
    """The most numbers any network of ``pair`` makes for one sample (a conv decoder's hidden maps may hold
    several times as many as its output): one example is traced with forward hooks on every module.

    Chunks of work are sized by it, so that no temporary exceeds the memory budget: larger ones would be
    mapped and unmapped by the allocator at every chunk, and the kernel would work as hard as the arithmetic.
    """
    widest = [x[0].numel()]

    def record(module, inputs, output) -> None:
        if isinstance(output, Tensor) and output.dim() > 0:
            widest.append(output[0].numel())

    hooks = [module.register_forward_hook(record) for module in pair.modules()]
    try:
        with frozen(0, pair.device):
            traced_log_weights(
                pair.model, pair.guide, x[:1].to(pair.device), None if y is None else y[:1].to(pair.device), 1
            )
    finally:
        for hook in hooks:
            hook.remove()
    return max(widest)


def examples_per_batch(pair: Pair, x: Tensor, y: Tensor | None, particles: int) -> int:
    """Examples per pass so that their ``particles`` samples make at most DEFAULT_MAX_ELEMENTS numbers in any network
    of ``pair`` (:func:`widest_per_sample`, at least the width of an example): a validation pass of a PixelCNN
    decoder stays in hundreds of MB where 10,000 examples at once took 15 GB."""
    width = max(x[0].numel(), widest_per_sample(pair, x, y))
    return max(1, DEFAULT_MAX_ELEMENTS // (particles * width))


def _chunk_sizes(n: int, k: int, width: int, max_elements: int) -> tuple[int, int]:
    """(examples, particles) per chunk so that examples * particles * width <= max_elements."""
    n_chunk = max(1, min(n, 100, max_elements // width))
    k_chunk = max(1, min(k, max_elements // (n_chunk * width)))
    return n_chunk, k_chunk


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
    samples (``ppl_vae.weights``), keeping the data dimension; work is cut into chunks of
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
    Runs under :func:`~ppl_vae.device.frozen`: parameters and the random streams are left as they were.

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
    n_chunk, k_chunk = _chunk_sizes(n, num_samples, width, max_elements)
    # Results are allocated once and filled in place (see ppl_vae.ppc: arrays made between chunks
    # would pin the allocator's heap between the chunks' temporaries).
    log_w = torch.empty(num_samples, n, dtype=x.dtype)  # (K, N)
    latent_means: dict[str, Tensor] = {}
    kl_per_dim: dict[str, Tensor] = {}
    chunks = list(batches(n, n_chunk))
    with (
        frozen(seed, device),
        pyro.validation_enabled(False),
        Progress(
            f"importance sampling, K={num_samples}", len(chunks), unit="chunk", step_lines=True, enabled=progress
        ) as bar,
    ):
        for s in chunks:
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            sums, kls = {}, {}
            for k in range(0, num_samples, k_chunk):
                k_now = min(k_chunk, num_samples - k)
                lw, guide_trace, model_trace = traced_log_weights(
                    pair.model, pair.guide, xs, ys, k_now, max_plate_nesting=pair.max_plate_nesting
                )
                log_w[k : k + k_now, s] = lw.cpu()
                for name, site in sample_sites(guide_trace).items():
                    sums[name] = sums.get(name, 0) + site["value"].sum(0)
                    kl = _per_dim_kl(site, model_trace.nodes[name])
                    if kl is not None:
                        kls[name] = kls.get(name, 0) + kl.sum(0)
            for results, totals in ((latent_means, sums), (kl_per_dim, kls)):
                for name, total in totals.items():
                    if name not in results:
                        results[name] = torch.empty(n, *total.shape[1:], dtype=total.dtype)
                    results[name][s] = (total / num_samples).cpu()
            bar.step()
    log_mean_w = torch.logsumexp(log_w, 0) - math.log(num_samples)
    w = torch.exp(log_w - log_w.max(0).values)
    mean_w, mean_w2 = w.mean(0), (w**2).mean(0)
    khat = torch.full((n,), math.nan, dtype=log_w.dtype)
    if num_samples >= MIN_SAMPLES_FOR_KHAT:
        import arviz

        with warnings.catch_warnings():  # high k-hat is reported by the caller, per data point
            warnings.simplefilter("ignore")
            khat = torch.as_tensor(arviz.psislw(log_w.T.double().numpy(), reff=1.0)[1], dtype=log_w.dtype)
        khat[log_w.max(0).values == log_w.min(0).values] = math.nan  # equal weights: exact, no tail to fit
    return ImportanceWeightedEstimate(
        log_likelihood=log_mean_w,
        standard_error=((mean_w2 - mean_w**2).clamp(min=0) / num_samples).sqrt() / mean_w,
        ess=num_samples * mean_w**2 / mean_w2,
        khat=khat.reshape(n),
        elbo=log_w.mean(0),
        latent_means=latent_means,
        kl_per_dim=kl_per_dim,
        num_samples=num_samples,
        exact=exact,
    )


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    """-log p in bits per dimension: -nats / (D ln 2), D the width of what is scored (lower is better)."""
    return -nats_per_example / (dim * math.log(2))


def _mean_and_error(values: Tensor) -> tuple[float, float]:
    """Mean over examples and its standard error over the data, std / sqrt(N)."""
    n = values.numel()
    return values.mean().item(), (values.std().item() / math.sqrt(n)) if n > 1 else math.nan


ACTIVE_UNIT_THRESHOLD = 0.01


def likelihood_summary(estimate: ImportanceWeightedEstimate, dim: int) -> dict:
    """The figures of ``ppl-vae evaluate`` (``evaluation-*.json``; keys in :data:`EVALUATION_KEYS`) from an estimate."""
    elbo, elbo_se = _mean_and_error(estimate.elbo)
    iw, iw_se = _mean_and_error(estimate.log_likelihood)
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
            name: int((means.reshape(means.shape[0], -1).var(0) > ACTIVE_UNIT_THRESHOLD).sum())
            for name, means in estimate.latent_means.items()
        },
        "kl_per_dim": {name: kl.mean(0).tolist() for name, kl in estimate.kl_per_dim.items()},
    }


EVALUATION_KEYS = {
    "num_examples": "N, examples evaluated",
    "iw_samples": "K, importance samples per example (1 when exact)",
    "exact": "true for a model without latent variables: its log-likelihood is computed exactly",
    "elbo_nats": "mean ELBO over examples (from the same K samples), nats per example",
    "elbo_standard_error": "standard error of that mean over the data, std / sqrt(N)",
    "iw_log_likelihood_nats": "mean importance-weighted log-likelihood log p̂(x), nats per example",
    "iw_standard_error": "standard error of that mean over the data, std / sqrt(N)",
    "iw_monte_carlo_error": "Monte Carlo error of that mean from the weights alone (delta method)",
    "iw_bits_per_dim": "-iw_log_likelihood_nats / (D ln 2)",
    "elbo_bits_per_dim": "-elbo_nats / (D ln 2)",
    "gap_nats": "iw_log_likelihood_nats - elbo_nats: how loose the ELBO is",
    "khat_above_0.7_share": "share of examples whose Pareto k-hat > 0.7: do not trust their estimate (null if K < 25)",
    "khat_median": "median Pareto k-hat",
    "khat_max": "largest Pareto k-hat",
    "ess_median": "median effective sample size of the weights (1..K)",
    "active_units": "per latent site: dimensions whose posterior mean varies over the data by more than 0.01",
    "kl_per_dim": "per latent site: mean over examples of KL(q(z_j|x) || p(z_j)) per dimension, nats",
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
