"""Data: what a dataset is, where it comes from, and what happens to it before a model sees it.

``containers`` (``Dataset`` of three ``Split`` s, in-memory tensors), ``readers`` (files on disk),
``datasets`` (the built-in datasets, registered by name), ``tasks`` (tasks made from them, such as
quadrant completion), ``checks`` (one sentence per problem, before any transform), ``transforms``
(floating point, binarization, the levels a likelihood dequantizes with) and ``provenance`` (which
data a run saw, and random subsets).

May import ``core`` only.
"""

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
