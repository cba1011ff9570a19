"""The inference gaps of an amortized guide: approximation and amortization (Cremer, Li & Duvenaud 2018).

For each example x: log p(x), the ELBO of the amortized q(z | x) = distribution(encoder(x)), and the ELBO
of q*(z | x) = distribution(params*), the best member of the same family for that x alone, found by
gradient ascent on the ELBO over ``params`` started at the encoder's output. Then

    log p(x) - ELBO(q)  =  [log p(x) - ELBO(q*)]  +  [ELBO(q*) - ELBO(q)]
    inference gap          approximation gap         amortization gap

The approximation gap is what the family cannot do; the amortization gap what one encoder for all x
loses against the best member per x. Cremer et al. (Table 2) found on MNIST that the amortization gap
dominates for the fully factorized Gaussian.

Estimates (nats per example): the ELBOs are means over ``iw_samples`` log-weights of their own q; log p(x)
is estimated by importance sampling from both: the K draws of q and the K of q* weighted by
p(x, z) / m(z) with m = (q + q*) / 2 (multiple importance sampling with the balance heuristic, Veach &
Guibas 1995; Owen & Zhou 2000): unbiased for p(x), so its log is a stochastic lower bound on log p(x), and it
is good wherever either proposal is. The per-example optimization is stochastic gradient ascent
(Adam, reparameterized draws) in batches; every ``check_every`` steps each example's ELBO is estimated on
the same ``check_particles`` random numbers (common random numbers, so that the comparison is not noise),
its best parameters kept; an example whose ELBO rose by at most ``tolerance`` nats above its best so far
goes on at a quarter of its learning rate, and stops when that happens a third time (the rest of its batch
goes on), or after ``max_steps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pyro
import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import MeasureError
from ppl_vae.core.inference_data import pareto_khat
from ppl_vae.evaluation.likelihood import MIN_SAMPLES_FOR_KHAT, mean_and_error
from ppl_vae.guides.base import AmortizedGuide
from ppl_vae.infer.bounds import refuse_non_density
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import DEFAULT_MAX_ELEMENTS, batches, widest_per_sample
from ppl_vae.infer.weights import log_weights, traced_log_weights


@dataclass(frozen=True)
class GapSettings:
    """How :func:`inference_gaps` measures. ``iw_samples``: K draws of q and of q* behind each ELBO and log p̂(x);
    ``particles``: reparameterized draws per optimization step; ``learning_rate``: Adam's, for q*'s parameters;
    ``check_every``, ``check_particles``, ``tolerance`` (nats), ``max_steps``: the stopping rule (module docstring);
    ``batch_size``: examples optimized together (fewer when their draws would exceed ``max_elements`` numbers in a
    network); ``seed``: of the draws. Raises ``ValueError`` for a count below 1."""

    iw_samples: int = 1000
    particles: int = 10
    learning_rate: float = 1e-2
    check_every: int = 50
    check_particles: int = 100
    tolerance: float = 0.05
    max_steps: int = 3000
    batch_size: int = 500
    max_elements: int = DEFAULT_MAX_ELEMENTS
    seed: int = 0

    def __post_init__(self):
        for name in ("iw_samples", "particles", "check_every", "check_particles", "max_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


@dataclass
class InferenceGaps:
    """Per-example results of :func:`inference_gaps`, all (N,) nats on the CPU, and the optimization's record.

    ``log_likelihood``: log p̂(x); ``elbo``: ELBO of the amortized q; ``optimized_elbo``: ELBO of q*;
    ``approximation_gap`` = log p̂(x) - ELBO(q*); ``amortization_gap`` = ELBO(q*) - ELBO(q);
    ``khat``: Pareto k-hat of q's importance weights (NaN when K < 25); ``steps``: optimization steps each
    example took; ``converged``: whether its ELBO stopped improving before ``max_steps``.
    """

    log_likelihood: Tensor
    elbo: Tensor
    optimized_elbo: Tensor
    khat: Tensor
    steps: Tensor
    converged: Tensor
    iw_samples: int

    @property
    def approximation_gap(self) -> Tensor:
        return self.log_likelihood - self.optimized_elbo

    @property
    def amortization_gap(self) -> Tensor:
        return self.optimized_elbo - self.elbo


def _sampling(site: str, distribution):
    """A Pyro guide function that samples ``site`` from ``distribution`` (batch shape (N,)) in the ``data`` plate."""

    def local(x: Tensor, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample(site, distribution)

    return local


def family_guide(guide: AmortizedGuide, params: Tensor):
    """A Pyro guide function that samples ``guide.site`` from ``guide.distribution(params)`` for the N examples of
    ``params`` (N, outputs): the member of the amortized guide's family with those parameters."""

    def local(x: Tensor, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        return _sampling(guide.site, guide.distribution(params))(x, y)

    return local


def require_family(pair: Pair) -> AmortizedGuide:
    """The pair's guide when it is an amortized guide whose family is ``distribution(params)`` of its encoder's
    output and covers every latent site of the model; else a :class:`MeasureError` saying why."""
    refuse_non_density(pair)
    guide, latents = pair.guide, pair.model_contract.latents
    if not latents:
        raise MeasureError(f"the model '{pair.model_name}' has no latent variables: it has no inference gaps")
    if not isinstance(guide, AmortizedGuide) or type(guide).distribution is AmortizedGuide.distribution:
        raise MeasureError(
            f"the guide '{pair.guide_name}' does not define its family as distribution(params) of an encoder's "
            "output (ppl_vae.guides.base.AmortizedGuide): there are no parameters to optimize per example"
        )
    if type(guide).posterior is not AmortizedGuide.posterior:
        raise MeasureError(
            f"the guide '{pair.guide_name}' computes q(z | x) from more than distribution(encoder output): the "
            "per-example optimum of distribution(params) would not be the same family"
        )
    if tuple(latents) != (guide.site,):
        raise MeasureError(
            f"the guide '{pair.guide_name}' samples only '{guide.site}' of the model's latent sites {list(latents)}: "
            "the amortization gap needs one family over all of them"
        )
    return guide


def _log_weights(pair: Pair, guide_fn, x: Tensor, y: Tensor | None, k: int, k_chunk: int) -> Tensor:
    """(K, n) log-weights of ``guide_fn`` on ``x``, K drawn in chunks of ``k_chunk``; no gradients."""
    with torch.no_grad():
        parts = [
            log_weights(pair.model, guide_fn, x, y, min(k_chunk, k - start), max_plate_nesting=pair.max_plate_nesting)
            for start in range(0, k, k_chunk)
        ]
    return torch.cat(parts)


def _mixture_terms(pair: Pair, own, other, x: Tensor, y: Tensor | None, k: int, k_chunk: int) -> tuple[Tensor, Tensor]:
    """For K draws z of the family member ``own`` (a distribution with batch shape (n,)): (log p(x, z) - log own(z),
    log p(x, z) - log m(z) with m = (own + other) / 2), each (K, n); no gradients."""
    guide = pair.guide
    parts, mixed = [], []
    with torch.no_grad():
        for start in range(0, k, k_chunk):
            log_w, trace, _ = traced_log_weights(
                pair.model, _sampling(guide.site, own), x, y, min(k_chunk, k - start), False, pair.max_plate_nesting
            )
            z = trace.nodes[guide.site]["value"]
            log_own, log_other = own.log_prob(z), other.log_prob(z)
            parts.append(log_w)
            mixed.append(log_w + log_own - torch.logaddexp(log_own, log_other) + math.log(2))
    return torch.cat(parts), torch.cat(mixed)


def _checked_elbo(pair: Pair, params: Tensor, x: Tensor, y: Tensor | None, particles: int, k_chunk: int, seed: int):
    """ELBO (n,) of the family member with ``params``, from ``particles`` draws made with the same random numbers at
    every call (common random numbers)."""
    with frozen(seed, x.device):
        return _log_weights(pair, family_guide(pair.guide, params), x, y, particles, k_chunk).mean(0)


ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
PLATEAU_FACTOR = 0.25  # an example whose ELBO stalls goes on at a quarter of its learning rate ...
PLATEAUS = 2  # ... and stops when it stalls again after this many reductions


def optimize_family(
    pair: Pair, x: Tensor, y: Tensor | None, settings: GapSettings = GapSettings(), check_chunk: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """q*'s parameters for the examples ``x`` (n, *x_shape) on the pair's device, by Adam (Kingma & Ba 2015) per
    example: (params (n, outputs), steps each example took (n,), whether it stopped improving before ``max_steps``
    (n,)), with ``settings.particles`` draws per step. Every ``check_every`` steps each example's ELBO is
    estimated on the same ``check_particles`` random numbers (``check_chunk`` draws per pass; default all at once),
    its best parameters kept; when an example's ELBO rose by at most ``tolerance`` nats above its best so far its
    learning rate is divided by 4, and after :data:`PLATEAUS` such reductions it leaves the optimization (the
    others go on without it). Gradients reach only q*'s parameters, never the pair's."""
    particles, learning_rate, check_every = settings.particles, settings.learning_rate, settings.check_every
    check_particles, max_steps, seed = settings.check_particles, settings.max_steps, settings.seed
    check_chunk = check_chunk or check_particles
    guide, n = pair.guide, x.shape[0]
    with torch.no_grad():
        params = guide.encode(x, y)
    best, best_elbo = params.clone(), _checked_elbo(pair, params, x, y, check_particles, check_chunk, seed)
    first, second = torch.zeros_like(params), torch.zeros_like(params)
    steps = torch.zeros(n, dtype=torch.long, device=params.device)
    active = torch.arange(n, device=params.device)
    rates = torch.full((n, 1), learning_rate, dtype=params.dtype, device=params.device)
    (beta1, beta2), step = ADAM_BETAS, 0
    while active.numel() and step < max_steps:
        xs, ys = x[active], None if y is None else y[active]
        for _ in range(min(check_every, max_steps - step)):
            step += 1
            with torch.enable_grad():  # the callers run under ppl_vae.core.devices.frozen, which turns gradients off
                local = params[active].requires_grad_(True)
                log_w = log_weights(
                    pair.model, family_guide(guide, local), xs, ys, particles, max_plate_nesting=pair.max_plate_nesting
                )
                (gradient,) = torch.autograd.grad(-log_w.mean(0).sum(), [local])
            first[active] = beta1 * first[active] + (1 - beta1) * gradient
            second[active] = beta2 * second[active] + (1 - beta2) * gradient.square()
            corrected = first[active] / (1 - beta1**step)
            scale = (second[active] / (1 - beta2**step)).sqrt() + ADAM_EPSILON
            params[active] = params[active] - rates[active] * corrected / scale
        steps[active] = step
        elbo = _checked_elbo(pair, params, x, y, check_particles, check_chunk, seed)  # all n: the same random numbers
        gain = elbo - best_elbo
        improved = gain > 0
        best[improved], best_elbo[improved] = params[improved], elbo[improved]
        stalled = gain[active] <= settings.tolerance
        rates[active[stalled]] *= PLATEAU_FACTOR
        active = active[rates[active, 0] >= learning_rate * PLATEAU_FACTOR**PLATEAUS * 0.999]
    converged = torch.ones(n, dtype=torch.bool, device=params.device)
    converged[active] = False
    return best, steps.cpu(), converged.cpu()


def _layout(pair: Pair, x: Tensor, y: Tensor | None, settings: GapSettings) -> tuple[int, int]:
    """(examples optimized together, draws per pass of a check or of the final estimates)."""
    width = max(x[0].numel(), widest_per_sample(pair, x, y))
    batch = max(1, min(settings.batch_size, x.shape[0], settings.max_elements // (settings.particles * width)))
    draws = max(settings.iw_samples, settings.check_particles)
    return batch, max(1, min(draws, settings.max_elements // (batch * width)))  # every pass covers the whole batch


PILOT_EXAMPLES = 16  # examples optimized to convergence to estimate the steps an example takes


def estimated_seconds(
    pair: Pair, x: Tensor, y: Tensor | None = None, settings: GapSettings = GapSettings(), timed_steps: int = 5
) -> float:
    """About how many seconds :func:`inference_gaps` takes for ``x`` with these settings: the first
    :data:`PILOT_EXAMPLES` examples are optimized to the stopping rule (their mean number of steps), and
    ``timed_steps`` steps of a whole first batch are timed; every example is counted at the pilot's mean steps,
    every check and the final estimates at the same cost per draw. Runs under
    :func:`~ppl_vae.core.devices.frozen`."""
    import time

    batch, k_chunk = _layout(pair, x, y, settings)
    timed = replace(
        settings, check_every=timed_steps, check_particles=settings.particles, tolerance=math.inf, max_steps=timed_steps
    )
    with frozen(settings.seed, pair.device), pyro.validation_enabled(False):
        xs, ys = x[:batch].to(pair.device), None if y is None else y[:batch].to(pair.device)
        pilot = min(PILOT_EXAMPLES, batch)
        _, steps, _ = optimize_family(pair, xs[:pilot], None if ys is None else ys[:pilot], settings, k_chunk)
        start = time.perf_counter()
        optimize_family(pair, xs, ys, timed)
        per_draw = (time.perf_counter() - start) / ((timed_steps + 2) * settings.particles * batch)  # two checks
    mean_steps, longest = steps.double().mean().item(), steps.max().item()
    checks = (longest / settings.check_every + 1) * settings.check_particles
    draws_per_example = mean_steps * settings.particles + checks + 2 * settings.iw_samples
    return x.shape[0] * draws_per_example * per_draw


def inference_gaps(
    pair: Pair, x: Tensor, y: Tensor | None = None, settings: GapSettings = GapSettings()
) -> InferenceGaps:
    """The gaps of every example of ``x`` (N, *x_shape) (``y``: labels of a label-conditioned model, or None),
    measured as ``settings`` (:class:`GapSettings`) say. Runs under :func:`~ppl_vae.core.devices.frozen`: the
    pair's parameters and the random streams are left as they were.
    Raises :class:`MeasureError` for a pair whose guide is not an amortized family (:func:`require_family`).

    Reference: C. Cremer, X. Li, D. Duvenaud, Inference Suboptimality in Variational Autoencoders, ICML 2018.
    """
    guide = require_family(pair)
    device, n = pair.device, x.shape[0]
    batch, k_chunk = _layout(pair, x, y, settings)
    iw_samples = settings.iw_samples
    results = {key: torch.empty(n, dtype=x.dtype) for key in ("log_p", "elbo", "elbo_star", "khat")}
    steps, converged = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.bool)
    with frozen(settings.seed, device), pyro.validation_enabled(False):
        for s in batches(n, batch):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            params, steps[s], converged[s] = optimize_family(pair, xs, ys, settings, k_chunk)
            with torch.no_grad():
                amortized, optimized = guide.distribution(guide.encode(xs, ys)), guide.distribution(params)
            log_w, mixed = _mixture_terms(pair, amortized, optimized, xs, ys, iw_samples, k_chunk)
            log_w_star, mixed_star = _mixture_terms(pair, optimized, amortized, xs, ys, iw_samples, k_chunk)
            both = torch.cat([mixed, mixed_star])
            results["log_p"][s] = (torch.logsumexp(both, 0) - math.log(2 * iw_samples)).cpu()
            results["elbo"][s] = log_w.mean(0).cpu()
            results["elbo_star"][s] = log_w_star.mean(0).cpu()
            results["khat"][s] = (
                torch.as_tensor(pareto_khat(log_w.T.cpu().numpy()), dtype=x.dtype)
                if iw_samples >= MIN_SAMPLES_FOR_KHAT
                else math.nan
            )
    return InferenceGaps(
        log_likelihood=results["log_p"],
        elbo=results["elbo"],
        optimized_elbo=results["elbo_star"],
        khat=results["khat"],
        steps=steps,
        converged=converged,
        iw_samples=iw_samples,
    )


def gaps_summary(gaps: InferenceGaps) -> dict:
    """The figures of ``gaps-*.json`` (keys in :data:`GAPS_KEYS`): [mean, standard error over the data] pairs."""
    approximation, amortization = gaps.approximation_gap, gaps.amortization_gap
    known = gaps.khat[~torch.isnan(gaps.khat)]
    return {
        "num_examples": gaps.elbo.numel(),
        "iw_samples": gaps.iw_samples,
        "log_likelihood_nats": list(mean_and_error(gaps.log_likelihood)),
        "elbo_nats": list(mean_and_error(gaps.elbo)),
        "optimized_elbo_nats": list(mean_and_error(gaps.optimized_elbo)),
        "inference_gap_nats": list(mean_and_error(gaps.log_likelihood - gaps.elbo)),
        "approximation_gap_nats": list(mean_and_error(approximation)),
        "amortization_gap_nats": list(mean_and_error(amortization)),
        "amortization_share": (amortization.mean() / (gaps.log_likelihood - gaps.elbo).mean()).item(),
        "amortization_dominates": bool(amortization.mean() > approximation.mean()),
        "negative_amortization_share": (amortization < 0).float().mean().item(),
        "unconverged_share": (~gaps.converged).float().mean().item(),
        "median_steps": gaps.steps.median().item(),
        "khat_above_0.7_share": (known > 0.7).float().mean().item() if known.numel() else None,
    }


GAPS_KEYS = {
    "num_examples": "N, examples measured",
    "iw_samples": "K, draws of q and of q* behind every ELBO and log p̂(x)",
    "log_likelihood_nats": "[mean, standard error] of log p̂(x), nats per example",
    "elbo_nats": "[mean, standard error] of the amortized ELBO, nats per example",
    "optimized_elbo_nats": "[mean, standard error] of the ELBO of q*, optimized per example in the same family",
    "inference_gap_nats": "[mean, standard error] of log p̂(x) - ELBO(q)",
    "approximation_gap_nats": "[mean, standard error] of log p̂(x) - ELBO(q*): what the family cannot do",
    "amortization_gap_nats": "[mean, standard error] of ELBO(q*) - ELBO(q): what one encoder for all x loses",
    "amortization_share": "mean amortization gap / mean inference gap",
    "amortization_dominates": "true when the mean amortization gap exceeds the mean approximation gap",
    "negative_amortization_share": "share of examples whose q* scored below the encoder's q (Monte Carlo noise, or "
    "an optimization that did not move: should be near 0)",
    "unconverged_share": "share of examples that reached max_steps before their ELBO stopped improving",
    "median_steps": "median number of optimization steps an example took",
    "khat_above_0.7_share": "share of examples whose q importance weights have Pareto k-hat > 0.7 (log p̂(x) then "
    "rests mostly on q*'s draws, or is unreliable)",
}
