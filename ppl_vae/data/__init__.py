"""Data: containers (``containers``), file readers (``readers``), the built-in datasets (``datasets``),
tasks made from them (``tasks``), checks (``checks``), transforms (``transforms``) and provenance."""

from ppl_vae.data.checks import check_data, check_fields, check_fit, check_labels, check_values, one_hot_labels
from ppl_vae.data.containers import SPLITS, Dataset, Split
from ppl_vae.data.readers import DATA_ENV, resolve_data_dir

__all__ = [
    "DATA_ENV",
    "SPLITS",
    "Dataset",
    "Split",
    "check_data",
    "check_fields",
    "check_fit",
    "check_labels",
    "check_values",
    "one_hot_labels",
    "resolve_data_dir",
]
