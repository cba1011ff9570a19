r"""What a latent space looks like, in numbers: the three problems of an autoencoder's codes.

The codes of a run are the means of q(z | x) over its test examples (the code itself for a
deterministic encoder). Three measures say whether the prior p(z) = Normal(0, I) is a good place
to sample from, each documented so that a reader can verify it:

(a) **off-centre**: ``centre_distance`` = ||m||, m the mean of the codes, and ``kl_to_prior`` =
    KL(Normal(m, S) || Normal(0, I)) = ½ (tr S + mᵀm − d − log det S), S their covariance: 0 when
    the codes fill the prior, large when they sit elsewhere or on another scale.
(b) **unequal class areas**: ``prior_class_kl`` = KL(s || f), s the shares of the classes among the
    decoded images of prior draws z ~ p(z) (labelled by a classifier trained on the real training
    images), f the class frequencies of the test data: 0 when the prior's mass is shared between
    the classes as the data is; large when some classes cover large areas of it and others small
    ones. Also given: ``class_log_det[c]`` = log det of the covariance of class c's codes (its
    volume) and ``class_spread_log_ratio`` = max_c − min_c of it (the log of the ratio of the largest
    to the smallest class volume); this one says nothing of where the prior puts its mass, and on
    the 8x8 digits it does not separate autoencoders from VAEs (measured over seeds 0-1).
(c) **gaps**: ``gap_share`` = the share of those prior draws whose decoded image the same classifier
    labels with probability below ``CONFIDENT`` for every class: samples that look like no digit,
    drawn from holes between classes.

A variational autoencoder's KL term pulls the codes towards the prior and so shrinks all three.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import MeasureError
from ppl_vae.data.containers import Dataset
from ppl_vae.evaluation.labels import code_means
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.predictive import prior_predictive, shown
from ppl_vae.infer.sizing import batches
from ppl_vae.infer.weights import site_means, vectorized

CONFIDENT = 0.5


CODE_DRAWS = 100  # draws averaged for the code of a guide whose mean is not tractable


def codes(pair: Pair, x: Tensor, batch_size: int = 1000) -> Tensor:
    """The code of every example of ``x`` (N, *x_shape): the mean of q(c | x) at the model's code site c
    (``ModelContract.code``; the average of :data:`CODE_DRAWS` draws where the mean is not tractable; for a model
    whose label is latent, the mean of the mixture over the classes, ``ppl_vae.evaluation.labels.code_means``):
    (N, code size), on the CPU."""
    from pyro import poutine

    device, parts, site = pair.device, [], pair.model_contract.code
    with frozen(0, device):
        for s in batches(x.shape[0], batch_size):
            xs, draws = x[s].to(device), 1
            if pair.model_contract.label_latent:
                parts.append(code_means(pair, xs).reshape(len(xs), -1).cpu())
                continue
            while True:
                trace = poutine.trace(vectorized(pair.guide, draws, pair.max_plate_nesting)).get_trace(xs)
                if site not in trace.nodes:
                    raise MeasureError(f"the guide '{pair.guide_name}' samples no site '{site}', the model's code")
                means, exact = site_means(trace.nodes[site])
                if exact or draws > 1:
                    break
                draws = CODE_DRAWS
            parts.append(means.mean(0).reshape(len(xs), -1).cpu())
    return torch.cat(parts)


def gaussian_kl_to_standard(mean: np.ndarray, covariance: np.ndarray) -> float:
    """KL(Normal(mean, covariance) || Normal(0, I)) in nats."""
    d = mean.shape[0]
    _, log_det = np.linalg.slogdet(covariance)
    return 0.5 * float(np.trace(covariance) + mean @ mean - d - log_det)


@dataclass
class LatentMeasures:
    """The three measures of the module docstring; the class ones are None without labels."""

    latent_dim: int
    centre_distance: float
    kl_to_prior: float
    prior_class_kl: float | None
    gap_share: float | None
    class_log_det: dict[int, float] | None
    class_spread_log_ratio: float | None
    note: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def class_volumes(z: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """log det of the covariance of each class's codes (classes with more examples than dimensions)."""
    result = {}
    for c in np.unique(labels):
        members = z[labels == c]
        if len(members) > z.shape[1]:
            result[int(c)] = float(np.linalg.slogdet(np.cov(members, rowvar=False).reshape(z.shape[1], -1))[1])
    return result


def real_image_classifier(data: Dataset, max_examples: int = 10000, seed: int = 0):
    """A logistic regression on (at most ``max_examples``) flattened training images and their labels."""
    from sklearn.linear_model import LogisticRegression

    train = data.train
    n = min(len(train), max_examples)
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    x = train.x[index.to(train.x.device)].reshape(n, -1).cpu().numpy()
    return LogisticRegression(max_iter=1000).fit(x, train.y[index.to(train.y.device)].cpu().numpy())


def classified_prior_draws(pair: Pair, classifier, draws: int = 1000, seed: int = 0) -> np.ndarray:
    """Class probabilities (draws, C) that ``classifier`` gives the decoded means of prior draws z ~ p(z)."""
    with frozen(seed, pair.device):
        means = shown(prior_predictive(pair, draws)[1])[0]
    return classifier.predict_proba(means.reshape(draws, -1).cpu().numpy())


def class_share_kl(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """KL(shares of the predicted classes || class frequencies of ``labels``), nats."""
    shares = np.bincount(probabilities.argmax(1), minlength=num_classes) / len(probabilities)
    frequencies = np.bincount(labels, minlength=num_classes) / len(labels)
    used = shares > 0
    return float((shares[used] * np.log(shares[used] / frequencies[used])).sum())


def measure(pair: Pair, data: Dataset, seed: int = 0) -> tuple[LatentMeasures, Tensor]:
    """The three measures of ``pair``'s codes of ``data``'s test split, and the codes (N, latent_dim)."""
    test = data.test
    z = codes(pair, test.x)
    array = z.double().numpy()
    mean, covariance = array.mean(0), np.cov(array, rowvar=False).reshape(array.shape[1], -1)
    volumes, spread, gaps, share_kl, note = None, None, None, None, None
    if data.num_classes is not None and test.y is not None:
        labels = test.y.cpu().numpy()
        volumes = class_volumes(array, labels)
        spread = max(volumes.values()) - min(volumes.values()) if len(volumes) > 1 else None
        probabilities = classified_prior_draws(pair, real_image_classifier(data, seed=seed), seed=seed)
        gaps = float((probabilities.max(1) < CONFIDENT).mean())
        share_kl = class_share_kl(probabilities, labels, data.num_classes)
    else:
        note = f"dataset {data.name} has no labels: no class areas, no gap measure, an uncoloured scatter"
    measures = LatentMeasures(
        latent_dim=array.shape[1],
        centre_distance=float(math.sqrt(mean @ mean)),
        kl_to_prior=gaussian_kl_to_standard(mean, covariance),
        prior_class_kl=share_kl,
        gap_share=gaps,
        class_log_det=volumes,
        class_spread_log_ratio=spread,
        note=note,
    )
    return measures, z


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """Spherical interpolation from ``a`` to ``b`` (each (L,)) in ``steps`` points: (steps, L)."""
    t = torch.linspace(0, 1, steps, dtype=a.dtype)[:, None]
    cos = (a @ b / (a.norm() * b.norm())).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def prior_quantiles(steps: int, low: float = 0.05, high: float = 0.95) -> Tensor:
    """Points of Normal(0, 1) at evenly spaced quantiles from ``low`` to ``high``: (steps,)."""
    return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(low, high, steps, dtype=torch.float64))


def decoded(pair: Pair, z: Tensor):
    """p(x | z) for latents ``z`` (n, latent_dim): the model run without data, its latent site conditioned on
    z, so that any model keeping the contract can be decoded. Call under :func:`~ppl_vae.core.devices.frozen`."""
    from pyro import poutine

    param = next(pair.parameters())
    contract = pair.model_contract
    conditioned = poutine.condition(pair.model, data={contract.code: z.to(param.device, param.dtype)})
    return poutine.trace(conditioned).get_trace(None, num_samples=z.shape[0]).nodes[contract.observed]["fn"]


def reconstruction_errors(pair: Pair, x: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Per example of ``x`` (N, *x_shape), at its code z = E[q(z | x)]: the squared error between x and
    the mean of p(x | z), summed over values, and log p(x | z) in nats: two (N,) tensors on the CPU."""
    z = codes(pair, x, batch_size)
    errors, log_likelihoods = [], []
    with frozen(0, pair.device):
        for s in batches(x.shape[0], batch_size):
            xs = x[s].to(pair.device)
            likelihood = decoded(pair, z[s])
            errors.append(((xs - shown(likelihood)) ** 2).reshape(len(xs), -1).sum(1).cpu())
            log_likelihoods.append(likelihood.log_prob(xs).cpu())
    return torch.cat(errors), torch.cat(log_likelihoods)
