"""The files of a posterior predictive check: the netCDF (ArviZ), the JSON of flags, and the figures."""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt

from ppl_vae.core.files import staged, write_json
from ppl_vae.core.inference_data import arviz_major, write_netcdf
from ppl_vae.evaluation.ppc import PredictiveCheck, summarize, to_inference_data
from ppl_vae.report.plots import new_figure, save_figure

ECDF_EXAMPLES = 2000  # examples per distribution function drawn: enough for a figure, and it bounds its memory


def plot_check(check, idata, folder: Path, stem: str = "ppc") -> None:
    """Write ``<stem>_statistics.png`` (arviz.plot_ppc of the check's group, posterior or prior: empirical
    distribution functions of the first :data:`ECDF_EXAMPLES` examples, robust to the discrete and constant
    statistics where density estimates fail) and ``<stem>_pvalues.png`` (arviz.plot_bpv) when there are image
    statistics, and ``<stem>_pixels.png`` (per-value frequencies and, for Bernoulli likelihoods, calibration).
    Under ArviZ 1.x the two statistic figures are its counterparts, ``plot_ppc_dist(kind="ecdf")`` and
    ``plot_ppc_pit`` (the u-values' ECDF difference with its simultaneous band)."""
    import arviz

    group = "prior" if check.group == "prior_predictive" else "posterior"
    names = list(check.observed)
    plotted = idata.isel(example=slice(None, ECDF_EXAMPLES), missing_dims="ignore")
    columns = min(3, len(names))
    rows = -(-len(names) // max(columns, 1))
    if names and arviz_major() >= 1:
        _plot_statistics_arviz1(check, idata, plotted, folder, stem)
        names = []  # drawn: only the pixel figure is left
    for kind, filename in (("ppc", f"{stem}_statistics.png"), ("bpv", f"{stem}_pvalues.png")):
        if not names:
            break
        fig, axes = new_figure(rows, columns, (4 * columns, 3.2 * rows))
        for ax, name in zip(axes.flat, names):
            if kind == "ppc":
                arviz.plot_ppc(
                    plotted,
                    kind="cumulative",
                    var_names=[name],
                    num_pp_samples=min(50, check.replicated[name].shape[0]),
                    ax=ax,
                    legend=ax is axes.flat[0],
                    random_seed=0,
                    group=group,
                )
                ax.set_xlabel(f"{name} of an image")
                ax.set_ylabel("share of images at or below")
            else:
                arviz.plot_bpv(idata, var_names=[name], kind="u_value", ax=ax, group=group)
                ax.set_xlabel("u-value, P(T(x_rep) <= T(x))")
                ax.set_ylabel("density (uniform if calibrated)")
            ax.set_title(name, fontsize=10)
        for ax in axes.flat[len(names) :]:
            ax.axis("off")
        save_figure(fig, folder / filename)
    image_shape = check.image_shape
    panels = 3 if check.calibration is not None else 2
    fig, axes = new_figure(1, panels, (4 * panels, 3.6))
    axes = axes[0]
    for ax, values, title in (
        (axes[0], check.pixel_observed, "observed frequency per value"),
        (axes[1], check.pixel_replicated.mean(0), f"replicated frequency per value ({group})"),
    ):
        shown = values.reshape(image_shape).mean(0) if image_shape is not None else values[None, :]
        image = ax.imshow(shown, cmap="viridis", vmin=0, vmax=1, aspect="auto" if image_shape is None else "equal")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(image, ax=list(axes[:2]), shrink=0.8, label="mean value")
    if check.calibration is not None:
        used = check.calibration[:, 2] > 0
        axes[2].plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axes[2].plot(check.calibration[used, 0], check.calibration[used, 1], marker="o")
        axes[2].set_xlabel("predicted pixel probability (bin mean)")
        axes[2].set_ylabel("observed frequency of ink")
        axes[2].set_title("calibration of p(x | z), z ~ q(z | x)", fontsize=9)
    save_figure(fig, folder / f"{stem}_pixels.png")


def _plot_statistics_arviz1(check, idata, plotted, folder: Path, stem: str) -> None:
    """The two statistic figures of :func:`plot_check` as ArviZ 1.x draws them: ``plot_ppc_dist(kind="ecdf")``
    and ``plot_ppc_pit`` of the check's group."""
    import arviz

    names = list(check.observed)
    draws = min(50, check.replicated[names[0]].shape[0])
    for plot, filename, data in (
        (partial(arviz.plot_ppc_dist, kind="ecdf", num_samples=draws), f"{stem}_statistics.png", plotted),
        (arviz.plot_ppc_pit, f"{stem}_pvalues.png", idata),
    ):
        with warnings.catch_warnings():  # "always uses the observed_data group": as it should
            warnings.simplefilter("ignore", UserWarning)
            plot(data, var_names=names, group=check.group, backend="matplotlib").savefig(str(folder / filename))
        plt.close("all")


def check_files(stem: str) -> tuple[str, ...]:
    """The files a check writes under ``stem`` (``ppc`` at the end of training)."""
    return (f"{stem}.nc", f"{stem}.json", f"{stem}_statistics.png", f"{stem}_pvalues.png", f"{stem}_pixels.png")


def write_check(check: PredictiveCheck, run_dir, extra: dict | None = None, stem: str = "ppc") -> dict:
    """Write every file of :func:`check_files` into ``run_dir``, all or none.

    The files are made in a temporary folder inside ``run_dir`` and moved in only when all
    exist, so a failed check leaves the previous files as they were. Without image
    statistics the two statistic figures are not made.
    """
    summary = {**(extra or {}), "note": check.note, "statistics": summarize(check)}
    idata = to_inference_data(check)
    with staged(Path(run_dir), check_files(stem)) as staging:
        write_netcdf(idata, staging / f"{stem}.nc")
        write_json(staging / f"{stem}.json", summary)
        plot_check(check, idata, staging, stem)
    return summary
