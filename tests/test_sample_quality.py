"""The feature classifier of the sample-quality measures (trained once, cached) and what `quality` refuses."""

from __future__ import annotations

import json

import pytest
import torch

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.core.errors import MeasureError
from ppl_vae.data import Dataset, Split
from ppl_vae.data.datasets import load_digits
from ppl_vae.data.transforms import to_floating
from ppl_vae.evaluation import feature_classifier as module
from ppl_vae.evaluation.feature_classifier import cache_path, feature_classifier
from ppl_vae.runs.training import train_experiment

PLUGIN = '''
import torch

from ppl_vae import register_dataset
from ppl_vae.data import Dataset, Split


def _splits(x, y):
    cut = [int(0.8 * len(x)), int(0.9 * len(x))]
    return [Split(x[a:b], None if y is None else y[a:b]) for a, b in ((0, cut[0]), (cut[0], cut[1]), (cut[1], len(x)))]


@register_dataset("test_quality_vectors")
def vectors(n: int = 300):
    """Binary vectors of 16 values, two classes: no images."""
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = (torch.rand(n, 16, generator=generator) < 0.2 + 0.6 * y[:, None]).to(torch.uint8)
    return Dataset("test_quality_vectors", *_splits(x, y), num_classes=2, levels=2, description="vectors")


@register_dataset("test_quality_unlabelled")
def unlabelled(n: int = 300):
    """Binary 1x8x8 images without labels."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 8, 8, generator=generator) < 0.3).to(torch.uint8)
    splits = _splits(x, None)
    return Dataset("test_quality_unlabelled", *splits, levels=2, description="no labels", image_shape=(1, 8, 8))
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugins") / "quality_data.py"
    path.write_text(PLUGIN)
    return path


def run_on(dataset: str, plugin, folder):
    path = folder / f"{dataset}.toml"
    path.write_text(f'[experiment]\nplugins = ["{plugin}"]\n\n[data]\nname = "{dataset}"\n')
    overrides = ["training.epochs=1", "training.device='cpu'", "evaluation.iw_samples=5", "evaluation.ppc_examples=0"]
    return train_experiment(load_experiment(str(path), overrides), folder / dataset)


def digits() -> Dataset:
    return to_floating(load_digits(), torch.float32)


def test_the_classifier_is_trained_once_per_dataset_and_knows_the_digits(monkeypatch):
    data = digits()
    first = feature_classifier(data)
    assert cache_path(data, 0).exists() and first.test_accuracy > 0.95

    def untrained(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(module, "train_feature_classifier", untrained)
    again = feature_classifier(data)
    assert again.test_accuracy == first.test_accuracy
    images = data.test.x[:50]
    assert torch.equal(again.apply(images)[0], first.apply(images)[0])
    features, probabilities = again.apply(images)
    assert features.shape == (50, 128) and torch.allclose(probabilities.sum(-1), torch.ones(50, dtype=torch.float64))


def test_an_unreadable_cache_file_is_replaced_by_a_new_training(monkeypatch):
    data = digits()
    path = cache_path(data, 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")

    def trained(data, seed):  # a stand-in for the training, whose result is recognizable
        classifier = module.FeatureClassifier(data.image_shape, data.num_classes)
        classifier.test_accuracy = 0.125
        return classifier

    monkeypatch.setattr(module, "train_feature_classifier", trained)
    assert feature_classifier(data, seed=7).test_accuracy == 0.125
    assert torch.load(path, weights_only=True)["test_accuracy"] == 0.125
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_classifier_refuses_data_without_labels_and_vectors_in_one_sentence():
    data = digits()
    splits = [Split(s.x) for s in (data.train, data.valid, data.test)]
    unlabelled = Dataset("unlabelled", *splits, image_shape=(1, 8, 8))
    with pytest.raises(MeasureError, match=r"^dataset unlabelled has no labels: the feature classifier .* not apply$"):
        feature_classifier(unlabelled)
    flat = Dataset("flat", *(Split(s.x.flatten(1), s.y) for s in (data.train, data.valid, data.test)), num_classes=10)
    with pytest.raises(MeasureError, match=r"^dataset flat holds vectors, not images"):
        feature_classifier(flat)


def test_quality_refuses_a_run_without_images_and_notes_missing_labels(plugin, tmp_path, capsys):
    vectors = run_on("test_quality_vectors", plugin, tmp_path)
    capsys.readouterr()
    assert main(["quality", str(vectors), "--samples", "20", "--permutations", "5"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "generates vectors, not images" in error and "Traceback" not in error
    assert not list(vectors.glob("quality-*"))

    images = run_on("test_quality_unlabelled", plugin, tmp_path)
    assert main(["quality", str(images), "--samples", "20", "--permutations", "5"]) == 0
    assert "has no labels: the feature classifier" in capsys.readouterr().out
    result = json.loads((images / "quality-seed0-N20.json").read_text())
    assert result["sample_quality"] is None and result["aggregate_posterior_mmd"]["n_first"] == 20
