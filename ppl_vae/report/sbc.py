"""The files of a simulation-based calibration: the netCDF (ArviZ), the JSON summary, and the ECDF-difference figure."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ppl_vae.core.files import staged, write_json
from ppl_vae.core.inference_data import arviz_major, write_netcdf
from ppl_vae.evaluation.sbc import CalibrationRanks, summarize, to_inference_data
from ppl_vae.report.plots import new_figure, save_figure

BAND_PROBABILITY = 0.95  # of the simultaneous band around the uniform ECDF
PANEL_DIMENSIONS = 6  # coordinates per site drawn by ArviZ 1.x's plot_ecdf_pit (one panel each)


def plot_sbc(result: CalibrationRanks, idata, path: Path) -> None:
    """The ECDF difference ECDF(PIT) - PIT of each coordinate's M PIT values, with the simultaneous 95% band of one
    coordinate's ECDF under uniformity, as ArviZ draws them. ArviZ 0.x: one panel per site and approximation
    (the guide's draws, the importance-resampled ones), every coordinate a line over the band of
    ``arviz.plot_ecdf(..., difference=True, confidence_bands=True)``: with many coordinates, 5% of the lines of a
    calibrated guide leave it somewhere. ArviZ 1.x: ``arviz.plot_ecdf_pit`` of group ``prior_sbc``, the first
    :data:`PANEL_DIMENSIONS` coordinates of each variable, each with its test's p-value."""
    import arviz

    if arviz_major() >= 1:
        coords = {f"{site}_dim": list(range(min(PANEL_DIMENSIONS, v.shape[1]))) for site, v in result.truth.items()}
        plots = arviz.plot_ecdf_pit(idata, group="prior_sbc", coords=coords, backend="matplotlib")
        plots.savefig(str(path))
        import matplotlib.pyplot as plt

        plt.close("all")
        return
    from scipy.stats import uniform

    points = np.linspace(0, 1, 201)
    panels = [(kind, site) for kind, sites in result.pit.items() for site in sites]
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = new_figure(rows, columns, (5 * columns, 3.6 * rows))
    for ax, (kind, site) in zip(axes.flat, panels):
        pit = result.pit[kind][site]
        for j, column in enumerate(pit.T):
            with warnings.catch_warnings():  # "Assuming variable is continuous": it is, the PITs are jittered
                warnings.simplefilter("ignore", UserWarning)
                arviz.plot_ecdf(
                    column,
                    eval_points=points,
                    cdf=uniform(0, 1).cdf,
                    difference=True,
                    confidence_bands=j == 0,
                    ci_prob=BAND_PROBABILITY,
                    plot_kwargs={"color": "C0", "alpha": max(0.15, 1 / np.sqrt(pit.shape[1])), "linewidth": 0.8},
                    ax=ax,
                )
        draws = "q(z | x)" if kind == "guide" else f"importance-resampled, K = {result.proposals}"
        ax.set_title(f"{site}: {pit.shape[1]} coordinates, {draws}", fontsize=9)
        ax.set_xlabel(f"PIT, (rank + u) / (L + 1), L = {result.num_draws}")
        ax.set_ylabel("ECDF - uniform CDF")
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"simulation-based calibration: {pit.shape[0]} simulations; band: {BAND_PROBABILITY:.0%} simultaneous")
    save_figure(fig, path)


def sbc_files(stem: str) -> tuple[str, ...]:
    """The files a calibration writes under ``stem``."""
    return (f"{stem}.nc", f"{stem}.json", f"{stem}_ecdf.png")


def write_sbc(result: CalibrationRanks, run_dir: Path, extra: dict, stem: str) -> dict:
    """Write every file of :func:`sbc_files` into ``run_dir``, all or none (made in a staging folder and moved in
    together); returns the JSON's content: ``extra``, then the summary (``ppl_vae.evaluation.sbc.SBC_KEYS``)."""
    summary = {**extra, **summarize(result)}
    idata = to_inference_data(result)
    with staged(Path(run_dir), sbc_files(stem)) as staging:
        write_netcdf(idata, staging / f"{stem}.nc")
        write_json(staging / f"{stem}.json", summary)
        plot_sbc(result, idata, staging / f"{stem}_ecdf.png")
    return summary
