"""Every figure a newcomer meets is readable: every plotting axis labelled, every image panel titled."""

from __future__ import annotations

import pytest

from ppl_vae.core.config import load_experiment
from ppl_vae.report import classification, latent_figures, ood, plots, ppc
from ppl_vae.runs.training import train_experiment
from tests.conftest import FAST


@pytest.fixture
def figures(monkeypatch):
    """Every figure saved while the test runs, by file name (kept open for inspection)."""
    saved = {}
    original = plots.save_figure

    def keep(fig, path):
        saved[path.name] = fig
        original(fig, path)

    for module in (plots, ppc, classification, ood, latent_figures):
        monkeypatch.setattr(module, "save_figure", keep)
    yield saved


def unlabelled(fig) -> list[str]:
    problems = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        if not ax.axison:
            if ax.images and not ax.get_title(loc="left") + ax.get_title():
                problems.append("an image panel without a title")
            continue
        if not ax.get_xlabel() or not ax.get_ylabel():
            problems.append(f"axes '{ax.get_title()}' lacks a label: x '{ax.get_xlabel()}', y '{ax.get_ylabel()}'")
    return problems


PPC = {"ppc_statistics.png", "ppc_pvalues.png", "ppc_pixels.png"}


@pytest.mark.parametrize(
    ("spec", "overrides", "expected"),
    [
        (None, [], {"elbo_curves.png", "reconstructions.png", "prior_samples.png", *PPC}),
        (
            "conditional_digits",
            ["model.decoder.hidden=[32]", "guide.encoder.hidden=[32]", "evaluation.classify_samples=5"],
            {"elbo_curves.png", "reconstructions.png", "class_samples.png", "classification.png", *PPC},
        ),
        (
            "quadrants_digits",
            ["model.decoder.hidden=[32]", "guide.encoder.hidden=[32]", "model.prior_net.hidden=[32]"],
            {"elbo_curves.png", "completions.png"},
        ),
    ],
)
def test_every_run_figure_has_labelled_axes(spec, overrides, expected, tmp_path, figures):
    fast = [o for o in FAST if not o.startswith(("model.decoder", "guide.encoder"))]
    checked = [*fast, "training.epochs=1", "evaluation.ppc_examples=40", *overrides]
    train_experiment(load_experiment(spec, checked), tmp_path / "run")
    assert set(figures) == expected
    for name, fig in figures.items():
        assert fig.get_layout_engine() is not None, name
        assert not unlabelled(fig), (name, unlabelled(fig))
