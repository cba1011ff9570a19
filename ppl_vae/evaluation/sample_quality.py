r"""Sample quality (fidelity) and diversity, in the features of a small classifier trained on the real images.

The feature space is the hidden layer of :class:`~ppl_vae.evaluation.feature_classifier.FeatureClassifier`,
a small convolutional classifier trained once per dataset on its real training images (its test accuracy is
reported beside the figures). Samples are the model's means of p(x | z, y), z ~ p(z) (the images
x = G(z) of a GAN), as the figures show them; a label-conditioned model draws one per label of the real
test images compared. Real images are the data before any binarization (``TrainedRun.images``), so that runs
of every likelihood meet the same reference. Every distance is measured twice: samples against real test
images, and real *training* images against the same test images (``*_real``: the floor that finite
samples alone give).

- ``frechet_distance``: |m_1 - m_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}) between Gaussians fitted to the two
  sets of features (Heusel et al. 2017, eq. 6), computed by torchmetrics' ``FrechetInceptionDistance`` with
  this classifier as its feature network. Biased: it shrinks as the sample count grows, so compare it only
  at equal counts.
- ``kernel_distance``: KID (Bińkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
  kernel k(a, b) = (a.b / d + 1)^3, averaged over random subsets of the two sets (``kernel_distance_std``:
  its standard deviation over them), by torchmetrics' ``KernelInceptionDistance``. Unbiased: near 0 (and
  possibly negative) for two samples of one distribution, whatever their size.
- ``precision`` and ``recall`` (Kynkäänniemi et al. 2019, section 2): the share of samples that fall inside
  the real images' manifold (the union of balls around each real feature vector reaching its k-th nearest
  real neighbour, k = 3), and the share of real images inside the samples' manifold. Precision is fidelity
  (samples look like data), recall diversity (the data's variety is covered).
- ``label_entropy``: the mean entropy of the classifier's p(y | x) over samples, nats (low: each looks like
  one class); ``marginal_label_entropy``: the entropy of their average p(y), nats (up to log C: they cover
  the classes).
- ``class_accuracy`` (label-conditioned models only): decode each of ``samples / C`` draws z ~ p(z) for every
  class (the style-by-class grid) and count how often the classifier names the class it was decoded for
  (``shared_style``: whether one z served every class; a prior picked by label draws one per class).

**These are not FIDs.** The features are this small classifier's, not Inception's: figures compare runs
measured with the same classifier, data, seed and sample count, never published FIDs.

FID and KID come from torchmetrics (``pip install 'ppl_vae[quality]'``). Precision and recall are computed
here: torchmetrics has none, and torch-fidelity's imports torchvision, which does not install beside every
torch build.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import MeasureError
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import random_subset
from ppl_vae.evaluation.feature_classifier import FeatureClassifier, feature_classifier
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.predictive import prior_means, style_means

NEIGHBOURS = 3  # k of the precision/recall manifolds (Kynkäänniemi et al. 2019 use 3)
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # Bińkowski et al. 2018's subsets


class Precomputed(nn.Module):
    """The identity on feature vectors (N, ``num_features``): lets torchmetrics' metrics take features that were
    computed once (by the classifier) instead of computing them again for each metric. The metrics are built with
    ``normalize=False``: torchmetrics before 1.4 (its pull request 2483) turns the input into bytes (x 255) when
    ``normalize`` is true, custom feature extractor or not, which would destroy the features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def _image_metrics():
    """torchmetrics' image module; a MeasureError naming the install when it is missing."""
    try:
        from torchmetrics.image import fid, kid
    except ImportError:
        raise MeasureError(
            "the sample-quality measures need torchmetrics: pip install 'ppl_vae[quality]' "
            "(or pip install torchmetrics)"
        ) from None
    return fid, kid


def _check_sets(a: Tensor, b: Tensor) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        shapes = f"{tuple(a.shape)} and {tuple(b.shape)}"
        raise ValueError(f"two sets of at least 2 feature rows (N, F) are needed, got {shapes}")


def frechet_distance(samples: Tensor, real: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``samples`` (N, F) and ``real`` (M, F), in squared
    feature units (torchmetrics, float64)."""
    _check_sets(samples, real)
    fid, _ = _image_metrics()
    metric = fid.FrechetInceptionDistance(feature=Precomputed(real.shape[1]), normalize=False)  # see Precomputed
    metric.update(real.double(), real=True)
    metric.update(samples.double(), real=False)
    return float(metric.compute())


def kernel_distance(
    samples: Tensor, real: Tensor, subsets: int = KID_SUBSETS, subset_size: int | None = None, seed: int = 0
) -> tuple[float, float]:
    """KID between feature rows ``samples`` (N, F) and ``real`` (M, F): (mean, standard deviation) of the unbiased
    MMD^2 over ``subsets`` random subsets of ``subset_size`` rows of each (default min(1000, half the smaller
    set), so that subsets differ), drawn with ``seed`` (torchmetrics, float64)."""
    _check_sets(samples, real)
    _, kid = _image_metrics()
    size = subset_size or min(KID_SUBSET_SIZE, max(2, min(len(samples), len(real)) // 2))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = kid.KernelInceptionDistance(
            feature=Precomputed(real.shape[1]), subsets=subsets, subset_size=size, normalize=False
        )
    metric.update(real.double(), real=True)
    metric.update(samples.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _within_radii(points: Tensor, centres: Tensor, radii: Tensor, chunk: int = 1000) -> Tensor:
    """For each row of ``points``, whether it lies within ``radii`` of at least one row of ``centres``."""
    return torch.cat([(torch.cdist(p, centres) <= radii).any(1) for p in points.split(chunk)])


def _radii(points: Tensor, k: int, chunk: int = 1000) -> Tensor:
    """Distance from each row of ``points`` to its k-th nearest other row."""
    return torch.cat([torch.cdist(p, points).kthvalue(k + 1, dim=1).values for p in points.split(chunk)])


def precision_recall(samples: Tensor, real: Tensor, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1-2) of feature rows ``samples`` (N, F)
    against ``real`` (M, F), both more than ``k`` rows: (share of samples in the real manifold, share of real
    rows in the samples' manifold), each in [0, 1]."""
    _check_sets(samples, real)
    if min(len(samples), len(real)) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} rows in each set")
    samples, real = samples.double(), real.double()
    precision = _within_radii(samples, real, _radii(real, k)).double().mean()
    recall = _within_radii(real, samples, _radii(samples, k)).double().mean()
    return float(precision), float(recall)


def entropies(probabilities: Tensor) -> tuple[float, float]:
    """(mean entropy of the rows of ``probabilities`` (N, C), entropy of their mean), nats."""

    def entropy(p: Tensor) -> Tensor:
        return -(p * p.clamp(1e-12, 1).log()).sum(-1)

    return float(entropy(probabilities).mean()), float(entropy(probabilities.mean(0)))


@dataclass(frozen=True)
class SampleQuality:
    """The measures of the module text: distances in the classifier's squared feature units, precision, recall
    and accuracies as shares in [0, 1], entropies in nats. ``class_accuracy`` and ``shared_style`` are None for
    models that do not read labels."""

    samples: int
    frechet_distance: float
    frechet_distance_real: float
    kernel_distance: float
    kernel_distance_std: float
    kernel_distance_real: float
    precision: float
    recall: float
    precision_real: float
    recall_real: float
    label_entropy: float
    marginal_label_entropy: float
    real_label_entropy: float
    real_marginal_label_entropy: float
    max_marginal_entropy: float
    classifier_test_accuracy: float
    class_accuracy: float | None
    shared_style: bool | None
    features: str

    def as_dict(self) -> dict:
        return asdict(self)


def class_accuracy(pair: Pair, classifier: FeatureClassifier, samples: int, seed: int) -> tuple[float, bool]:
    """(Share of decoded images the classifier names as the class they were decoded for, whether each z served
    every class) over ``samples // C`` draws z ~ p(z), each decoded for every class C of a label-conditioned model."""
    classes = classifier.num_classes
    per_class = max(1, samples // classes)
    labels = torch.arange(classes).repeat_interleave(per_class)
    means, shared = style_means(pair, labels, per_class, seed)
    _, probabilities = classifier.apply(means.cpu())
    return float((probabilities.argmax(-1) == labels).double().mean()), shared


def sample_quality(
    pair: Pair, data: Dataset, samples: int = 2000, seed: int = 0, classifier: FeatureClassifier | None = None
) -> SampleQuality:
    """The measures for ``samples`` draws of ``pair``'s model against as many real test images of ``data`` (labelled
    images in [0, 1]). ``classifier``: the feature classifier of ``data`` (default: the cached one,
    :func:`~ppl_vae.evaluation.feature_classifier.feature_classifier`).

    Raises MeasureError for vector data, data without labels, or without torchmetrics."""
    classifier = classifier or feature_classifier(data, seed)
    _image_metrics()
    test, _ = random_subset(data.test, samples, seed)
    train, _ = random_subset(data.train, len(test), seed + 1)
    conditioned = pair.model_contract.conditioning is Conditioning.LABELS
    drawn = prior_means(pair, len(test), test.y.cpu() if conditioned else None, seed).cpu()
    (fake, fake_p), (real, real_p) = classifier.apply(drawn), classifier.apply(test.x.cpu())
    reference, _ = classifier.apply(train.x.cpu())
    drawn_label, drawn_marginal = entropies(fake_p)
    real_label, real_marginal = entropies(real_p)
    kid, kid_std = kernel_distance(fake, real, seed=seed)
    precision, recall = precision_recall(fake, real)
    precision_real, recall_real = precision_recall(reference, real)
    accuracy, shared = class_accuracy(pair, classifier, samples, seed) if conditioned else (None, None)
    return SampleQuality(
        samples=len(test),
        frechet_distance=frechet_distance(fake, real),
        frechet_distance_real=frechet_distance(reference, real),
        kernel_distance=kid,
        kernel_distance_std=kid_std,
        kernel_distance_real=kernel_distance(reference, real, seed=seed)[0],
        precision=precision,
        recall=recall,
        precision_real=precision_real,
        recall_real=recall_real,
        label_entropy=drawn_label,
        marginal_label_entropy=drawn_marginal,
        real_label_entropy=real_label,
        real_marginal_label_entropy=real_marginal,
        max_marginal_entropy=math.log(classifier.num_classes),
        classifier_test_accuracy=classifier.test_accuracy,
        class_accuracy=accuracy,
        shared_style=shared,
        features=f"a conv classifier's {classifier.num_features} hidden units (not Inception: not comparable to FIDs)",
    )
