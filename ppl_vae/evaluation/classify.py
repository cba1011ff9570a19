"""Bayes-rule classification with a label-conditioned generative model.

p(y = c | x) = p̂(x | c) p(c) / sum_c' p̂(x | c') p(c'), where p̂(x | c) is the
importance-weighted estimate of ``ppl_vae.evaluation.likelihood`` with the label fixed to c and
p(c) the class frequencies of the training labels, or, for a model whose label is a latent site
(the semi-supervised VAE), its own prior p(y). The largest log p̂(x | c) over
classes scores how well x fits any class at all: inputs that fit none score low. A model whose
label is latent also has a classifier in its guide, q(y | x): its accuracy is reported beside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, roc_auc_score
from torch import Tensor

from ppl_vae.evaluation.labels import classifier_log_probs, label_log_prior
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.infer.pair import Pair


def class_prior(labels: Tensor, num_classes: int) -> Tensor:
    """log p(c): log of the class frequencies of ``labels`` (N,), shape (num_classes,)."""
    counts = torch.bincount(labels, minlength=num_classes).double()
    return (counts / counts.sum()).log().float()


def class_log_likelihoods(pair: Pair, x: Tensor, num_classes: int, num_samples: int = 100, seed: int = 0) -> Tensor:
    """log p̂(x | y = c) for every example and class: (N, num_classes) nats, K = ``num_samples``; for a model whose
    label is latent, which scores its own p(y) with the given label, log p̂(x, y = c).

    One importance-weighted pass over the N * num_classes (example, class) pairs.
    """
    n = x.shape[0]
    labels = torch.arange(num_classes, device=x.device).repeat_interleave(n)
    repeated = x.repeat(num_classes, *[1] * (x.dim() - 1))
    estimate = importance_weighted_log_likelihood(pair, repeated, labels, num_samples, seed=seed)
    return estimate.log_likelihood.reshape(num_classes, n).T


@dataclass
class Classification:
    """``log_likelihoods`` (N, C): log p̂(x | c); ``log_prior`` (C,): log p(c)."""

    log_likelihoods: Tensor
    log_prior: Tensor

    @property
    def log_posterior(self) -> Tensor:
        """log p(c | x), (N, C): each row sums to 1 after exp."""
        return torch.log_softmax(self.log_likelihoods + self.log_prior, dim=1)

    @property
    def predicted(self) -> Tensor:
        """The most probable class per example, (N,)."""
        return self.log_posterior.argmax(dim=1)

    @property
    def fit_score(self) -> Tensor:
        """max_c log p̂(x | c), (N,) nats: low for inputs that fit no class."""
        return self.log_likelihoods.max(dim=1).values


def shuffled_pixels(x: Tensor, seed: int = 0) -> Tensor:
    """Each example of ``x`` (N, *shape) with its values permuted at random: same ink, no digit left."""
    flat = x.reshape(x.shape[0], -1)
    generator = torch.Generator().manual_seed(seed)
    order = torch.argsort(torch.rand(flat.shape, generator=generator), dim=1).to(x.device)
    return torch.gather(flat, 1, order).reshape(x.shape)


def _quantiles(values: Tensor) -> dict[str, float]:
    q = np.quantile(values.cpu().numpy(), [0.05, 0.5, 0.95])
    return {"q05": float(q[0]), "median": float(q[1]), "q95": float(q[2])}


def classification_summary(result: Classification, labels: Tensor, outliers: Classification | None = None) -> dict:
    """Accuracy, confusion matrix (rows: true class, columns: predicted) and fit scores.

    With ``outliers`` (the same model on inputs that belong to no class), also the
    AUROC of the fit score at telling real inputs (positive) from them.
    """
    num_classes = result.log_likelihoods.shape[1]
    predicted = result.predicted
    summary = {
        "num_examples": int(labels.numel()),
        "accuracy": float((predicted == labels).float().mean()),
        "chance_accuracy": float(result.log_prior.exp().max()),
        "mean_log_posterior_of_true_class": float(result.log_posterior.gather(1, labels[:, None]).mean()),
        "confusion_matrix": confusion_matrix(labels.numpy(), predicted.numpy(), labels=range(num_classes)).tolist(),
        "class_prior": result.log_prior.exp().tolist(),
        "fit_score_nats": _quantiles(result.fit_score),
    }
    if outliers is not None:
        scores = torch.cat([result.fit_score, outliers.fit_score]).numpy()
        is_real = np.r_[np.ones(len(result.fit_score)), np.zeros(len(outliers.fit_score))]
        summary["outlier_fit_score_nats"] = _quantiles(outliers.fit_score)
        summary["fit_score_auroc"] = float(roc_auc_score(is_real, scores))
    return summary


CLASSIFICATION_KEYS = {
    "num_examples": "N, examples classified",
    "iw_samples": "K, importance samples per example and class",
    "accuracy": "share of examples whose most probable class p(y | x) is the true one",
    "chance_accuracy": "accuracy of always predicting the most frequent training class",
    "mean_log_posterior_of_true_class": "mean log p(y_true | x), nats (0 is perfect)",
    "confusion_matrix": "counts, rows: true class, columns: predicted class",
    "class_prior": "p(y): class frequencies of the training labels",
    "fit_score_nats": "quantiles of max_y log p̂(x | y) over the examples, nats",
    "outlier_fit_score_nats": "the same on the examples with their pixels shuffled (inputs of no class)",
    "fit_score_auroc": "AUROC of the fit score at telling the real examples from the shuffled ones (1 is perfect)",
    "classifier_accuracy": "models whose label is latent: share of examples whose most probable class under the "
    "guide's classifier q(y | x) is the true one",
    "classifier_mean_log_prob_of_true_class": "mean log q(y_true | x), nats (0 is perfect)",
    "classifier_confusion_matrix": "counts of q(y | x)'s predictions, rows: true class, columns: predicted class",
    "agreement": "share of examples where q(y | x) and the Bayes rule through the model predict the same class",
}


def classifier_summary(log_q: Tensor, labels: Tensor, bayes_predicted: Tensor) -> dict:
    """The figures of a guide's classifier: ``log_q`` (N, C) log q(c | x), true ``labels`` (N,), and the classes
    ``bayes_predicted`` (N,) by the Bayes rule through the model."""
    predicted = log_q.argmax(dim=1)
    num_classes = log_q.shape[1]
    return {
        "classifier_accuracy": float((predicted == labels).float().mean()),
        "classifier_mean_log_prob_of_true_class": float(log_q.gather(1, labels[:, None]).mean()),
        "classifier_confusion_matrix": confusion_matrix(
            labels.numpy(), predicted.numpy(), labels=range(num_classes)
        ).tolist(),
        "agreement": float((predicted == bayes_predicted).float().mean()),
    }


def classify_split(
    pair: Pair,
    x: Tensor,
    labels: Tensor,
    train_labels: Tensor,
    num_classes: int,
    num_samples: int = 100,
    seed: int = 0,
) -> tuple[dict, Classification, Classification]:
    """Classify ``x`` (N, *x_shape) with true ``labels`` (N,) by Bayes' rule.

    Returns the :data:`CLASSIFICATION_KEYS` figures, and the classifications of ``x`` and
    of its pixel-shuffled copy.

    p(y) is the class frequencies of ``train_labels`` (or the model's own prior, for a model whose label is
    latent: ``train_labels`` is then unused, and the accuracy of its guide's classifier q(y | x) is added); the fit
    score is also computed on ``x`` with its pixels shuffled (:func:`shuffled_pixels`) to measure how well it
    separates real inputs from inputs of no class.
    """
    latent = pair.model_contract.label_latent
    log_prior = label_log_prior(pair, x, num_classes) if latent else class_prior(train_labels.cpu(), num_classes)

    def classified(inputs: Tensor) -> Classification:
        log_likelihoods = class_log_likelihoods(pair, inputs, num_classes, num_samples, seed)
        return Classification(log_likelihoods - log_prior if latent else log_likelihoods, log_prior)

    real, outliers = classified(x), classified(shuffled_pixels(x, seed))
    summary = {"iw_samples": num_samples, **classification_summary(real, labels.cpu(), outliers)}
    if latent:
        summary.update(classifier_summary(classifier_log_probs(pair, x, num_classes), labels.cpu(), real.predicted))
    return summary, real, outliers
