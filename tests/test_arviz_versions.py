"""The ArviZ objects and netCDF files of the package under ArviZ 0.x (InferenceData) and 1.x (DataTree).

Imports neither torch nor Pyro, nor the suite's conftest, so that it runs in an environment with ArviZ 1.x
and without torch (Python >= 3.12): ``python -m pytest --noconftest tests/test_arviz_versions.py``. The files
``tests/data/groups-arviz0.nc`` and ``groups-arviz1.nc`` were written from :func:`reference_groups` by
``write_reference`` under each version; both must read under the installed one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ppl_vae.core.inference_data import (
    arviz_major,
    from_groups,
    group,
    group_names,
    pareto_khat,
    read_netcdf,
    write_netcdf,
)

DATA = Path(__file__).parent / "data"
DIMS = {"z": ["z_dim"], "z_resampled": ["z_dim"], "total_ink": ["example"], "x_subset": ["image", "pixel"]}


def reference_groups() -> dict[str, dict[str, np.ndarray]]:
    """The groups of an SBC file and of a prior predictive check, with fixed numbers."""
    pit = (np.arange(1 * 20 * 3).reshape(1, 20, 3) % 17 + 0.5) / 17
    return {
        "prior": {"z": np.linspace(-2, 2, 60).reshape(1, 20, 3)},
        "prior_sbc": {"z": pit, "z_resampled": pit[:, ::-1]},
        "sbc_ranks": {"z": (pit * 10).astype(np.int64), "z_resampled": (pit[:, ::-1] * 10).astype(np.int64)},
        "prior_predictive": {"total_ink": np.arange(1 * 4 * 5, dtype=float).reshape(1, 4, 5)},
        "observed_data": {"total_ink": np.arange(5.0), "x_subset": np.eye(2, 4)},
    }


def write_reference(path: Path) -> None:
    """Write :func:`reference_groups` to ``path`` with the installed ArviZ."""
    write_netcdf(from_groups(reference_groups(), dims=DIMS, attrs={"num_draws": 10}), path)


def check_reference(data) -> None:
    expected = reference_groups()
    assert set(expected) <= set(group_names(data))
    for name, variables in expected.items():
        values = group(data, name)
        for variable, array in variables.items():
            assert np.array_equal(values[variable].values, array), (name, variable)
    assert group(data, "prior_sbc")["z"].dims == ("chain", "draw", "z_dim")
    assert group(data, "observed_data")["x_subset"].dims == ("image", "pixel")
    assert int(group(data, "sbc_ranks").attrs["num_draws"]) == 10


def test_groups_built_written_and_read_back_under_the_installed_arviz(tmp_path):
    data = from_groups(reference_groups(), dims=DIMS, attrs={"num_draws": 10})
    assert type(data).__name__ == ("DataTree" if arviz_major() >= 1 else "InferenceData")
    check_reference(data)
    write_reference(tmp_path / "groups.nc")
    check_reference(read_netcdf(tmp_path / "groups.nc"))
    with pytest.raises(KeyError, match="no group 'posterior'; groups: "):
        group(data, "posterior")


@pytest.mark.parametrize("name", ["groups-arviz0.nc", "groups-arviz1.nc"])
def test_files_written_under_either_arviz_read_under_the_installed_one(name):
    check_reference(read_netcdf(DATA / name))


def test_pareto_khat_grows_with_the_tail_of_the_weights():
    rng = np.random.default_rng(0)
    light = rng.normal(size=(50, 1000))  # log-normal weights of variance 1: k-hat well below 0.5
    heavy = np.log(rng.pareto(1.0, size=(50, 1000)))  # weights with tail index 1: k-hat near 1
    assert np.median(pareto_khat(light)) < 0.5 < 0.8 < np.median(pareto_khat(heavy)) < 1.2
