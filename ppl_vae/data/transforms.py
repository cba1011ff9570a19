"""What happens to checked raw data before a model sees it: floating point, binarization, dequantization.

- :func:`to_floating`: integer grey levels k become k / (levels - 1) in the requested dtype.
- :func:`binarize`: for a Bernoulli likelihood on grey levels (``data.binarize``).
- :func:`dequantization_levels`: for a continuous likelihood (Gaussian, continuous Bernoulli,
  ...) on discrete data, the number of levels L that the likelihood dequantizes with
  (``ppl_vae.models.likelihood``: uniform dequantization, Theis et al. 2016), so that every
  figure is a bound on the discrete probability of the data in nats, never a density.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor
from torch.distributions import constraints

from ppl_vae.core.contract import ModelContract, levels
from ppl_vae.core.errors import ConfigError
from ppl_vae.data.checks import INTEGER_DTYPES, check_unit_interval
from ppl_vae.data.containers import Dataset, Split


def _floating(values: Tensor | None, levels: int | None, dtype: torch.dtype) -> Tensor | None:
    if values is None:
        return None
    if values.dtype in INTEGER_DTYPES:
        return values.to(dtype) / (levels - 1)
    return values.to(dtype)


def to_floating(data: Dataset, dtype: torch.dtype = torch.float32) -> Dataset:
    """``x`` (and structured outputs ``y``) in floating point ``dtype``; integer levels k -> k / (levels - 1)."""
    labels = data.num_classes is not None

    def convert(split: Split) -> Split:
        y = split.y if labels or split.y is None else _floating(split.y, data.levels, dtype)
        return Split(_floating(split.x, data.levels, dtype), y if not labels or y is None else y.to(torch.int64))

    return data.with_splits({name: convert(s) for name, s in data.splits().items()})


def _is_binary(values: Tensor) -> bool:
    return bool(((values == 0) | (values == 1)).all())


def binarize(data: Dataset, mode: str, contract: ModelContract, seed: int = 0) -> Dataset:
    """Make the observed field of ``data`` fit a Bernoulli likelihood, as ``mode`` says.

    Thresholding and sampling read values as intensities in [0, 1]: data outside that range is refused in one
    sentence (a DataError), never thresholded as it is. ``"none"`` leaves values as they are; ``"threshold"``
    maps values > 0.5 to 1;
    ``"dynamic"`` keeps grey levels for training (the trainer draws Bernoulli(p) per batch)
    and binarizes valid / test once by sampling with ``seed``; ``"auto"`` is ``"threshold"``
    when a Bernoulli likelihood meets grey-level data, else ``"none"``. Binarizing for a
    continuous likelihood is allowed (the data becomes binary, 2 levels).
    """
    field = contract.observed
    splits = data.splits()
    binary = all(_is_binary(getattr(s, field)) for s in splits.values() if getattr(s, field) is not None)
    chosen = mode
    if mode == "auto":
        mode = "threshold" if contract.support is constraints.boolean and not binary else "none"
    if mode == "none" or binary:
        return data
    use = f"data.binarize = '{mode}'"
    use += " (what 'auto' chose for the Bernoulli likelihood)" if chosen == "auto" else ""
    for name, split in splits.items():
        if getattr(split, field) is not None:
            check_unit_interval(getattr(split, field), f"the {name} split of {data.name}, {field},", use)
    what = "" if field == "x" else " (outputs y)"
    if mode == "threshold":
        fixed = {
            name: replace(s, **{field: (getattr(s, field) > 0.5).to(getattr(s, field).dtype)})
            for name, s in splits.items()
        }
        return data.with_splits(fixed, levels=2, description=data.description + f"; binarized at 0.5{what}")
    generator = torch.Generator().manual_seed(seed)
    sampled = {
        name: replace(s, **{field: torch.bernoulli(getattr(s, field), generator=generator)})
        for name, s in splits.items()
        if name != "train"
    }
    return data.with_splits(
        sampled,
        levels=2,
        dynamic_binarization=True,
        description=data.description + f"; dynamically binarized{what}",
    )


def likelihood_levels(data: Dataset, contract: ModelContract, mode: str) -> int | None:
    """The number of levels L the model's likelihood is given, or None (a Bernoulli, or continuous data).

    A discretized likelihood (support ``levels``) gets the data's levels and needs them. A continuous
    one gets them to dequantize with; ``mode`` is ``data.dequantize``: ``"auto"`` dequantizes whenever
    a continuous likelihood meets discrete data (including binary data: L = 2); ``"uniform"`` asks for
    it explicitly and is refused where it cannot apply.
    """
    if contract.discrete:
        if mode == "uniform":
            raise ConfigError(
                "data.dequantize = 'uniform' asks to dequantize for a continuous likelihood, but the model's "
                "likelihood is discrete; remove the option"
            )
        if contract.support is not levels:
            return None
        if data.levels is None:
            raise ConfigError(
                f"the model's discretized likelihood needs discrete data with declared levels; "
                f"{data.name} declares none"
            )
        return data.levels
    if data.levels is None:
        if mode == "uniform":
            raise ConfigError(f"data.dequantize = 'uniform' needs discrete data, but {data.name} declares no levels")
        return None
    if data.levels == 2 and mode == "uniform":
        raise ConfigError(
            "dequantization asked for binary data: a Bernoulli likelihood models 0/1 values exactly "
            "(model.name = 'bernoulli_vae'); remove data.dequantize to keep this likelihood"
        )
    return data.levels
