"""The files of the inference gaps: the JSON summary, the per-example CSV, and the figure."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ppl_vae.core.files import staged, write_json, write_text
from ppl_vae.evaluation.gaps import InferenceGaps, gaps_summary
from ppl_vae.report.plots import new_figure, save_figure

COLUMNS = ("log_likelihood", "elbo", "optimized_elbo", "approximation_gap", "amortization_gap", "khat", "steps")


def plot_gaps(gaps: InferenceGaps, path: Path) -> None:
    """Per example, the amortization gap against the approximation gap (the diagonal: equal shares), and the
    histograms of both (nats)."""
    approximation, amortization = gaps.approximation_gap.numpy(), gaps.amortization_gap.numpy()
    fig, axes = new_figure(1, 2, (10, 4))
    left, right = axes[0]
    left.scatter(approximation, amortization, s=6, alpha=0.5)
    top = float(max(approximation.max(), amortization.max(), 0))
    low = float(min(approximation.min(), amortization.min(), 0))
    left.plot([low, top], [low, top], color="grey", linestyle="--", linewidth=1)
    left.set_xlabel("approximation gap, log p(x) - ELBO(q*), nats")
    left.set_ylabel("amortization gap, ELBO(q*) - ELBO(q), nats")
    left.set_title(f"{len(approximation)} examples", fontsize=10)
    bins = np.histogram_bin_edges(np.r_[approximation, amortization], bins=40)
    right.hist(approximation, bins=bins, alpha=0.6, label=f"approximation, mean {approximation.mean():.2f}")
    right.hist(amortization, bins=bins, alpha=0.6, label=f"amortization, mean {amortization.mean():.2f}")
    right.set_xlabel("gap, nats")
    right.set_ylabel("examples")
    right.set_title("inference gap = approximation + amortization", fontsize=10)
    right.legend()
    save_figure(fig, path)


def per_example_csv(gaps: InferenceGaps) -> str:
    """One row per example: its index, then :data:`COLUMNS` (nats; k-hat; steps)."""
    values = np.column_stack([np.asarray(getattr(gaps, name), dtype=np.float64) for name in COLUMNS])
    buffer = io.StringIO()
    np.savetxt(
        buffer,
        np.column_stack([np.arange(len(values)), values]),
        delimiter=",",
        fmt="%.6g",
        header=",".join(("example", *COLUMNS)),
        comments="",
    )
    return buffer.getvalue()


def gaps_files(stem: str) -> tuple[str, ...]:
    """The files a measurement of the gaps writes under ``stem``."""
    return (f"{stem}.json", f"{stem}.csv", f"{stem}.png")


def write_gaps(gaps: InferenceGaps, run_dir: Path, extra: dict, stem: str) -> dict:
    """Write every file of :func:`gaps_files` into ``run_dir``, all or none; returns the JSON's content: ``extra``,
    then :func:`~ppl_vae.evaluation.gaps.gaps_summary`."""
    summary = {**extra, **gaps_summary(gaps)}
    with staged(Path(run_dir), gaps_files(stem)) as staging:
        write_json(staging / f"{stem}.json", summary)
        write_text(staging / f"{stem}.csv", per_example_csv(gaps))
        plot_gaps(gaps, staging / f"{stem}.png")
    return summary
