r"""What a model whose class label is a latent site gives (``ModelContract.label_latent``, the semi-supervised
VAE): its classifier q(y | x), its prior p(y), and log p(x) with the label summed out exactly.

.. math:: \log \hat p(x) = \log \sum_{c} \hat p(x, y = c), \qquad
          \hat p(x, c) = \frac{1}{K} \sum_k \frac{p(x, c, z_k)}{q(z_k \mid x, c)}, \quad z_k \sim q(z \mid x, c)

The sum over the C classes is exact (enumeration); each term is the importance-weighted estimate of
``ppl_vae.evaluation.likelihood`` with the label given, K = ``num_samples`` per example and class. Its exponential
is unbiased for p(x), so log p̂(x) is a stochastic lower bound on log p(x) that rises with K (Burda et al. 2016).
The same C terms give the Bayes rule through the model, p(c | x) = p̂(x, c) / p̂(x)
(``ppl_vae.evaluation.classify``).
"""

from __future__ import annotations

import pyro
import torch
from pyro import poutine
from pyro.infer import config_enumerate
from torch import Tensor

from ppl_vae.core.contract import LABEL_SITE
from ppl_vae.core.devices import frozen
from ppl_vae.evaluation.likelihood import ImportanceWeightedEstimate, importance_weighted_log_likelihood
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import batches


def _label_site(fn, x: Tensor, kind: str, name: str):
    trace = poutine.trace(fn).get_trace(x, y=None)
    if LABEL_SITE not in trace.nodes:
        raise ValueError(f"the {kind} '{name}' samples no label site '{LABEL_SITE}' when the labels are hidden")
    return trace.nodes[LABEL_SITE]["fn"]


def _per_class(distribution, num_classes: int, device) -> Tensor:
    """log_prob of every class under a distribution over labels with batch shape (N,): (N, num_classes)."""
    classes = torch.arange(num_classes, device=device)[:, None]
    return distribution.log_prob(classes).T


def classifier_log_probs(pair: Pair, x: Tensor, num_classes: int, batch_size: int = 1000) -> Tensor:
    """log q(y = c | x) for every example of x (N, *x_shape) and class: (N, num_classes) nats, on the CPU; the
    guide's label site traced without labels (no randomness is drawn from the callers' streams)."""
    parts = []
    with frozen(0, pair.device), pyro.validation_enabled(False):
        for s in batches(x.shape[0], batch_size):
            xs = x[s].to(pair.device)
            parts.append(
                _per_class(_label_site(pair.guide, xs, "guide", pair.guide_name), num_classes, xs.device).cpu()
            )
    return torch.cat(parts)


def code_means(pair: Pair, x: Tensor) -> Tensor:
    """E_q[c | x] = Σ_y q(y | x) E_q[c | x, y] at the model's code site c, for x (N, *x_shape): (N, *code shape).
    The guide is traced without labels with its label site enumerated in parallel, so the sum over classes is
    exact; the code site's distribution must have a tractable mean. Call under ``frozen``."""
    nesting = pair.max_plate_nesting
    guide = poutine.enum(config_enumerate(pair.guide, "parallel"), first_available_dim=-(nesting + 1))
    trace = poutine.trace(guide).get_trace(x, y=None)
    label, code = trace.nodes[LABEL_SITE], trace.nodes[pair.model_contract.code]
    weights = label["fn"].log_prob(label["value"]).exp()  # (C, N)
    means = code["fn"].mean
    return (weights.reshape(*weights.shape, *[1] * (means.dim() - weights.dim())) * means).sum(0)


def label_log_prior(pair: Pair, x: Tensor, num_classes: int) -> Tensor:
    """log p(y = c) of the model, (num_classes,) nats, read from its label site (traced on the first example of x)."""
    with frozen(0, pair.device):
        prior = _label_site(pair.model, x[:1].to(pair.device), "model", pair.model_name)
        return _per_class(prior, num_classes, pair.device)[0].cpu()


def class_estimates(pair: Pair, x: Tensor, num_classes: int, num_samples: int, seed: int = 0, progress: bool = False):
    """The importance-weighted estimate of log p(x, y = c) for every example and class in one pass over the
    N * C (example, class) pairs: an :class:`ImportanceWeightedEstimate` whose per-example fields are
    ordered class by class (index c * N + n)."""
    n = x.shape[0]
    labels = torch.arange(num_classes, device=x.device).repeat_interleave(n)
    repeated = x.repeat(num_classes, *[1] * (x.dim() - 1))
    return importance_weighted_log_likelihood(pair, repeated, labels, num_samples, seed=seed, progress=progress)


def marginal_log_likelihood(
    pair: Pair, x: Tensor, num_classes: int, num_samples: int, seed: int = 0, progress: bool = False
) -> ImportanceWeightedEstimate:
    """log p(x) per example of x (N, *x_shape) with the label summed out (the module text), as an
    :class:`ImportanceWeightedEstimate` whose fields mean:

    - ``log_likelihood``: log Σ_c p̂(x, c), nats; ``standard_error``: its Monte Carlo error by the delta method,
      sqrt(Σ_c (w_c se_c)^2), w_c = p̂(x, c) / p̂(x) and se_c the error of log p̂(x, c);
    - ``elbo``: the enumerated ELBO U(x) = Σ_c q(c | x) [ELBO(x, c) − log q(c | x)] (Kingma et al. 2014, eq. 7),
      ELBO(x, c) the mean of the K log-weights of class c;
    - ``ess`` and ``khat``: those of each example's most probable class under p̂(x, c), the term that dominates
      the sum;
    - ``latent_means``: ``y``, q(y | x) (N, C), the mean of the one-hot label; every other latent site (``z``),
      Σ_c q(c | x) E_q[z | x, c], the mean of q(z | x), flattened to (N, size); ``latent_mean_variance`` their
      Monte Carlo variance (0 for y);
    - ``kl_per_dim``: ``y``, KL(q(y | x) || p(y)) exactly, (N, 1); every other site, Σ_c q(c | x) times each
      class's per-dimension KL.

    ``num_samples`` is K per example and class: the model is run N * C * K times.
    """
    n = x.shape[0]
    per_class = class_estimates(pair, x, num_classes, num_samples, seed, progress)

    def table(values: Tensor) -> Tensor:  # (C * N, ...) -> (N, C, ...)
        return values.reshape(num_classes, n, *values.shape[1:]).transpose(0, 1)

    joint = table(per_class.log_likelihood)
    log_q = classifier_log_probs(pair, x, num_classes).to(joint.dtype)
    q = log_q.exp()
    shares = torch.softmax(joint, dim=1)  # p̂(x, c) / p̂(x)
    dominant = joint.argmax(dim=1, keepdim=True)
    prior = label_log_prior(pair, x, num_classes).to(joint.dtype)
    mixed = q[..., None]  # (N, C, 1): weights of the classes' terms

    def mixture(per_site: dict[str, Tensor], weights: Tensor) -> dict[str, Tensor]:
        return {name: (weights * table(values).flatten(2)).sum(1) for name, values in per_site.items()}

    means = {LABEL_SITE: q, **mixture(per_class.latent_means, mixed)}
    variances = {LABEL_SITE: torch.zeros_like(q), **mixture(per_class.latent_mean_variance, mixed.square())}
    kl = {LABEL_SITE: (q * (log_q - prior)).sum(1, keepdim=True), **mixture(per_class.kl_per_dim, mixed)}
    return ImportanceWeightedEstimate(
        log_likelihood=torch.logsumexp(joint, dim=1),
        standard_error=(shares * table(per_class.standard_error)).square().sum(1).sqrt(),
        ess=table(per_class.ess).gather(1, dominant)[:, 0],
        khat=table(per_class.khat).gather(1, dominant)[:, 0],
        elbo=(q * (table(per_class.elbo) - log_q)).sum(1),
        latent_means=means,
        latent_mean_variance=variances,
        kl_per_dim=kl,
        num_samples=num_samples,
    )


def estimate_log_likelihood(
    pair: Pair,
    x: Tensor,
    y: Tensor | None,
    num_samples: int,
    num_classes: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> ImportanceWeightedEstimate:
    """What a run's figures are, per example of x (N, *x_shape): for a model whose label is latent, log p(x) with
    the label summed out over ``num_classes`` classes (:func:`marginal_log_likelihood`; ``y`` unused); else the
    importance-weighted estimate of what the model scores given ``y`` (log p(x), log p(x | y) or log p(y | x))."""
    if pair.model_contract.label_latent:
        return marginal_log_likelihood(pair, x, num_classes, num_samples, seed, progress)
    return importance_weighted_log_likelihood(pair, x, y, num_samples, seed=seed, progress=progress)
