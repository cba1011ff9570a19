"""ArviZ objects under ArviZ 0.x and 1.x: building them from arrays, reading their groups, their netCDF files.

ArviZ 0.x (Python >= 3.10) keeps groups of draws in an ``arviz.InferenceData``; ArviZ 1.x (Python >= 3.12)
in an ``xarray.DataTree``, builds it with ``from_dict`` over one nested dict of groups, and moves
``psislw`` to ``arviz_stats``. Every group the package writes goes through :func:`from_groups`, and every
reader through :func:`group` and :func:`read_netcdf`, so the same files and in-memory objects serve
both. This module imports neither torch nor Pyro: it can be checked in an environment without them.

Conventions: arrays of a sample group (``posterior``, ``prior``, ``posterior_predictive``,
``prior_predictive``, ``log_likelihood``, ``prior_sbc``, ...) are shaped (chain, draw, ...); those of
``observed_data`` have no sample dimensions. Group names outside ArviZ 0.x's schema (``prior_sbc``,
the group ArviZ 1.x's ``plot_ecdf_pit`` reads by default) are written as they are.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np

UNSAMPLED_GROUPS = ("observed_data", "constant_data", "predictions_constant_data")


def arviz_major() -> int:
    """The major version of the installed ArviZ: 0 or 1."""
    import arviz

    return int(arviz.__version__.split(".")[0])


def from_groups(
    groups: dict[str, dict[str, np.ndarray]],
    dims: dict[str, list[str]] | None = None,
    coords: dict[str, Any] | None = None,
    attrs: dict[str, Any] | None = None,
):
    """An ``InferenceData`` (ArviZ 0.x) or ``DataTree`` (ArviZ 1.x) holding ``groups``: group name -> variable
    name -> array, (chain, draw, *dims) for sample groups, (*dims) for :data:`UNSAMPLED_GROUPS`; ``dims``:
    variable name -> names of its dimensions after (chain, draw); ``coords``: dimension -> values; ``attrs``:
    attributes of every group (numbers and strings)."""
    import arviz

    groups = {name: variables for name, variables in groups.items() if variables}
    if arviz_major() >= 1:
        per_group = {name: dict(attrs) for name in groups} if attrs else None  # 1.x takes attributes per group
        return arviz.from_dict(groups, dims=dims, coords=coords, attrs=per_group)
    keywords = inspect.signature(arviz.from_dict).parameters
    standard = {name: variables for name, variables in groups.items() if name in keywords}
    idata = arviz.from_dict(**standard, dims=dims, coords=coords, attrs=attrs)
    others = {name: variables for name, variables in groups.items() if name not in standard}
    if others:
        datasets = {
            name: arviz.dict_to_dataset(variables, coords=coords, dims=dims, attrs=attrs)
            for name, variables in others.items()
        }
        with warnings.catch_warnings():  # "group ... is not defined in the InferenceData scheme": on purpose
            warnings.simplefilter("ignore", UserWarning)
            idata.add_groups(datasets)
    return idata


def group_names(data) -> list[str]:
    """The names of the groups of an ``InferenceData`` or ``DataTree``."""
    if hasattr(data, "children"):
        return list(data.children)
    return list(data.groups())


def group(data, name: str):
    """Group ``name`` of an ``InferenceData`` or ``DataTree`` as an ``xarray.Dataset``; a KeyError naming the
    groups there when it has none of that name."""
    if name not in group_names(data):
        raise KeyError(f"no group '{name}'; groups: {', '.join(group_names(data))}")
    node = data[name]
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def write_netcdf(data, path: str | Path) -> None:
    """Write an ``InferenceData`` or ``DataTree`` to the netCDF-4 file ``path`` (one HDF5 group per group)."""
    data.to_netcdf(str(path))


def read_netcdf(path: str | Path):
    """The netCDF file ``path`` as an ``InferenceData`` (ArviZ 0.x) or ``DataTree`` (ArviZ 1.x), loaded into
    memory (the file is closed)."""
    import arviz

    data = arviz.from_netcdf(str(path))
    if hasattr(data, "load"):
        data = data.load()
    return data


def pareto_khat(log_weights: np.ndarray) -> np.ndarray:
    """Pareto k-hat of each row of ``log_weights`` (N, K), PSIS with relative efficiency 1 (Vehtari et al. 2024):
    (N,). ``arviz.psislw`` under ArviZ 0.x, ``arviz_stats``'s array ``psislw`` under 1.x."""
    log_weights = np.asarray(log_weights, dtype=np.float64)
    with warnings.catch_warnings():  # high k-hat is reported by the callers
        warnings.simplefilter("ignore")
        if arviz_major() >= 1:
            from arviz_stats.base.array import array_stats

            return np.asarray(array_stats.psislw(log_weights, r_eff=1.0)[1])
        import arviz

        return np.asarray(arviz.psislw(log_weights, reff=1.0)[1])
