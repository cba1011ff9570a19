r"""Sample quality and diversity, in the feature space of a small classifier trained on the real data.

The classifier is scikit-learn's ``MLPClassifier`` (one hidden layer of 256 ReLU units, early
stopping on a tenth of its training images) fitted to at most 20,000 training images and their
labels; its hidden layer is the feature space. Samples are the model's means of p(x | z, y),
z ~ p(z) (the images x = G(z) of a GAN), as the figures show them; a label-conditioned model
draws one per label of the real test images compared. The real images are the data before any
binarization (``TrainedRun.images``), so that runs of every likelihood meet the same reference.

- ``frechet_distance``: the Fréchet distance between Gaussians fitted to the features of the
  samples and of as many real test images, |m_1 - m_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})
  (Heusel et al. 2017). This is the MNIST analogue of FID: its feature space is this small
  classifier, not Inception, so it is **not comparable to published FIDs**, only between runs
  measured by the same classifier (same data, seed and sample count). ``frechet_distance_real``
  is the distance between as many real *training* images and the test images: the floor that
  sampling noise alone gives.
- ``label_entropy``: the mean entropy of the classifier's p(y | x) over samples, nats (low: each
  sample looks like one class); ``marginal_label_entropy``: the entropy of their average p(y),
  nats (high, up to log C: the samples cover the classes). Both also for the real test images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from torch import Tensor

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import MeasureError
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import random_subset
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.predictive import prior_means

HIDDEN_UNITS = 256
TRAINING_IMAGES = 20000


class FeatureClassifier:
    """The classifier of the module text, fitted to ``data``'s training split with ``seed``."""

    def __init__(self, data: Dataset, seed: int = 0):
        from sklearn.neural_network import MLPClassifier

        if data.num_classes is None or data.train.y is None:
            raise MeasureError(f"dataset {data.name} has no labels: no classifier, so no sample-quality measures")
        train, _ = random_subset(data.train, TRAINING_IMAGES, seed)
        self.model = MLPClassifier(
            (HIDDEN_UNITS,), early_stopping=True, max_iter=100, random_state=seed, validation_fraction=0.1
        ).fit(flat(train.x), train.y.cpu().numpy())
        self.num_classes = data.num_classes

    def features(self, images: np.ndarray) -> np.ndarray:
        """Hidden-layer activations (N, 256) of flattened images (N, D)."""
        return np.maximum(images @ self.model.coefs_[0] + self.model.intercepts_[0], 0)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """p(y | x) (N, C) over every class of the data (classes missing from its training images get 0)."""
        result = np.zeros((len(images), self.num_classes))
        result[:, self.model.classes_] = self.model.predict_proba(images)
        return result


def flat(images: Tensor) -> np.ndarray:
    """Images (N, *x_shape) as float64 rows (N, D) on the CPU."""
    return images.reshape(len(images), -1).double().cpu().numpy()


def psd_root(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative rounding clipped)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``a`` (N, F) and ``b`` (M, F).

    tr (S_a S_b)^{1/2} is computed as tr (S_a^{1/2} S_b S_a^{1/2})^{1/2}, a symmetric PSD root, which stays
    real and finite when dead features make the covariances singular."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = psd_root(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def entropies(probabilities: np.ndarray) -> tuple[float, float]:
    """(mean entropy of the rows, entropy of their mean), nats."""

    def entropy(p: np.ndarray) -> np.ndarray:
        return -(p * np.log(np.clip(p, 1e-12, 1))).sum(-1)

    return float(entropy(probabilities).mean()), float(entropy(probabilities.mean(0)))


@dataclass(frozen=True)
class SampleQuality:
    """The measures of the module text (distances in feature units squared, entropies in nats)."""

    samples: int
    frechet_distance: float
    frechet_distance_real: float
    label_entropy: float
    marginal_label_entropy: float
    real_label_entropy: float
    real_marginal_label_entropy: float
    max_marginal_entropy: float

    def as_dict(self) -> dict:
        return asdict(self)


def sample_quality(
    pair: Pair, data: Dataset, samples: int = 2000, seed: int = 0, classifier: FeatureClassifier | None = None
) -> SampleQuality:
    """The measures for ``samples`` draws of ``pair``'s model against as many real test images of ``data``."""
    classifier = classifier or FeatureClassifier(data, seed)
    test, _ = random_subset(data.test, samples, seed)
    train, _ = random_subset(data.train, len(test), seed + 1)
    labels = test.y.cpu() if pair.model_contract.conditioning is Conditioning.LABELS else None
    drawn = flat(prior_means(pair, len(test), labels, seed))
    real, reference = flat(test.x), flat(train.x)
    drawn_label, drawn_marginal = entropies(classifier.probabilities(drawn))
    real_label, real_marginal = entropies(classifier.probabilities(real))
    real_features = classifier.features(real)
    return SampleQuality(
        samples=len(test),
        frechet_distance=frechet_distance(classifier.features(drawn), real_features),
        frechet_distance_real=frechet_distance(classifier.features(reference), real_features),
        label_entropy=drawn_label,
        marginal_label_entropy=drawn_marginal,
        real_label_entropy=real_label,
        real_marginal_label_entropy=real_marginal,
        max_marginal_entropy=float(np.log(classifier.num_classes)),
    )
