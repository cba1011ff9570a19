"""What a run's codes are worth as features for supervised learning with few labels.

For each number of labels n, a logistic regression (scikit-learn, on standardized features) is
fitted on n labelled training examples drawn class-balanced at random (from those whose labels the run
kept, for a run trained with ``data.labels``), and its accuracy measured
on the whole test split; over ``draws`` label draws, the mean and standard deviation. Three kinds
of features of the same data: the run's codes (the means of q(z | x), see ``ppl_vae.evaluation.latents``),
the raw values (pixels), and PCA of the raw values with as many components as the codes have
dimensions (fitted, without labels, on the whole training split). Under dynamic binarization the
training images are binarized once (seeded), as the test images are. Kingma et al. (2014) report
11.82% test error for their M1 model (+ TSVM) with 100 MNIST labels.
"""

from __future__ import annotations

import numpy as np
import torch

from ppl_vae.core.errors import ConfigError
from ppl_vae.data.containers import Dataset
from ppl_vae.data.labelled import balanced_sample, labelled_mask
from ppl_vae.evaluation.latents import codes
from ppl_vae.infer.pair import Pair

ALL = "all"


def accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float((classifier.fit(train_x, train_y).predict(test_x) == test_y).mean())


def check_label_counts(counts: list[int | str], train_size: int, num_classes: int) -> list[int | str]:
    for count in counts:
        if count == ALL:
            continue
        if not isinstance(count, int) or count < num_classes:
            raise ConfigError(f"--labels {count}: give at least one label per class ({num_classes}), or 'all'")
        if count > train_size:
            raise ConfigError(
                f"--labels {count} is more than the {train_size} examples of the training split with labels"
            )
    return counts


def training_inputs(data: Dataset, seed: int) -> torch.Tensor:
    """The training examples as the test ones are: binarized once with ``seed`` under dynamic binarization
    (whose training split keeps its grey levels, redrawn at every step), else as they are."""
    x = data.train.x
    if not data.dynamic_binarization:
        return x
    return torch.bernoulli(x, generator=torch.Generator(device=x.device).manual_seed(seed))


def features(pair: Pair, data: Dataset, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(train, test) features: the run's codes, the raw values, and PCA of the raw values of the codes' size."""
    from sklearn.decomposition import PCA

    inputs = {"train": training_inputs(data, seed), "test": data.test.x}
    raw = {name: x.reshape(len(x), -1).cpu().double().numpy() for name, x in inputs.items()}
    z = {name: codes(pair, x).double().numpy() for name, x in inputs.items()}
    pca = PCA(z["train"].shape[1]).fit(raw["train"])
    return {
        "codes": (z["train"], z["test"]),
        "raw": (raw["train"], raw["test"]),
        f"pca{z['train'].shape[1]}": (pca.transform(raw["train"]), pca.transform(raw["test"])),
    }


def probe(pair: Pair, data: Dataset, counts: list[int | str], draws: int = 5, seed: int = 0) -> dict:
    """Test accuracy of each kind of features with each number of labels: {features: {n: {mean, std, draws}}}."""
    if data.num_classes is None or data.train.y is None or data.test.y is None:
        raise ConfigError(f"dataset {data.name} has no labels on its training and test splits: nothing to probe")
    known = labelled_mask(data.train.y).cpu().numpy()  # a run trained with data.labels keeps only some
    train_y, test_y = data.train.y.cpu().numpy()[known], data.test.y.cpu().numpy()
    check_label_counts(counts, len(train_y), data.num_classes)
    table: dict[str, dict] = {}
    for kind, (train_x, test_x) in features(pair, data, seed).items():
        train_x = train_x[known]
        rows = table.setdefault(kind, {})
        for count in counts:
            repeats = 1 if count == ALL else draws
            scores = []
            for draw in range(repeats):
                rng = np.random.default_rng([seed, draw])
                index = (
                    np.arange(len(train_y)) if count == ALL else balanced_sample(train_y, count, data.num_classes, rng)
                )
                scores.append(accuracy(train_x[index], train_y[index], test_x, test_y))
            rows[str(count)] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "draws": repeats}
    return table


def chance(data: Dataset) -> float:
    """Accuracy of always predicting the most frequent test class."""
    return float(torch.bincount(data.test.y.cpu()).max() / len(data.test))
