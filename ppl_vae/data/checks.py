"""Checks on data, each failure one sentence naming the split, the field, the problem and how many values.

Raw data is checked before any transform (:func:`check_fields`, :func:`check_values`): a NaN
must never be thresholded into a 0. What a model is given is checked against what it
declares (:func:`check_fit`, and :func:`check_data` for tensors passed in directly).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import constraints
from torch.distributions.constraints import Constraint

from ppl_vae.core.contract import UNLABELLED, Conditioning, ModelContract, support_name
from ppl_vae.core.errors import DataError
from ppl_vae.data.containers import SPLITS, Dataset, Split

GRID_TOLERANCE = 1e-3  # |value * (levels - 1) - nearest integer| allowed for floating grey levels
INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _count(mask: Tensor) -> int:
    return int(mask.sum())


def check_labels(
    y: Tensor | None, num_classes: int, n: int | None = None, what: str = "labels", hidden: bool = False
) -> None:
    """Raise :class:`DataError` unless ``y`` is a (n,) integer tensor of classes 0 .. num_classes - 1 (or, with
    ``hidden``, :data:`~ppl_vae.core.contract.UNLABELLED` where a label is hidden)."""
    expected = f"class labels y, shape (N,), integers 0 to {num_classes - 1}"
    lowest = UNLABELLED if hidden else 0
    if hidden:
        expected += f" or {UNLABELLED} where hidden"
    if y is None:
        raise DataError(f"{what}: none given; a label-conditioned model needs {expected}")
    if not isinstance(y, Tensor) or y.dtype not in INTEGER_DTYPES:
        kind = y.dtype if isinstance(y, Tensor) else type(y).__name__
        raise DataError(f"{what} must be {expected}; got {kind}")
    if y.dim() != 1:
        raise DataError(f"{what} must be {expected}; got shape {tuple(y.shape)}")
    if n is not None and y.shape[0] != n:
        raise DataError(f"{what}: {y.shape[0]} labels for {n} examples")
    if y.numel() and (int(y.min()) < lowest or int(y.max()) >= num_classes):
        raise DataError(f"{what} must be {expected}; got values from {int(y.min())} to {int(y.max())}")


def check_fields(data: Dataset, source: str) -> None:
    """The fields a dataset factory returned: types, shapes and their agreement across splits.

    ``source`` names the factory in the sentence (``"dataset factory 'mine'"``).
    """
    if not isinstance(data, Dataset):
        raise DataError(f"{source} returned {type(data).__name__}, not a ppl_vae.data.Dataset")
    if data.levels is not None and (not isinstance(data.levels, int) or data.levels < 2):
        raise DataError(f"{source} declares levels = {data.levels!r}; give a whole number >= 2, or None")
    if data.num_classes is not None and (not isinstance(data.num_classes, int) or data.num_classes < 2):
        raise DataError(f"{source} declares num_classes = {data.num_classes!r}; give a whole number >= 2, or None")
    shapes: dict[str, set] = {"x": set(), "y": set()}
    for name in SPLITS:
        split = getattr(data, name)
        if not isinstance(split, Split):
            raise DataError(f"{source} returned a {name} split of type {type(split).__name__}, not a Split")
        where = f"{source}: the {name} split"
        if not isinstance(split.x, Tensor) or split.x.dim() < 2:
            got = tuple(split.x.shape) if isinstance(split.x, Tensor) else type(split.x).__name__
            raise DataError(f"{where} holds x of {got}; x must be a tensor (N, D) or (N, C, H, W)")
        if split.x.shape[0] == 0:
            raise DataError(f"{where} is empty")
        shapes["x"].add(tuple(split.x.shape[1:]))
        if split.y is None:
            continue
        if not isinstance(split.y, Tensor):
            raise DataError(f"{where} holds y of type {type(split.y).__name__}, not a tensor")
        if split.y.shape[0] != split.x.shape[0]:
            raise DataError(f"{where} has {split.y.shape[0]} rows of y for {split.x.shape[0]} of x")
        if data.num_classes is not None:
            hidden = data.labelled is not None and name != "test"
            check_labels(split.y, data.num_classes, len(split), f"{where}, labels y", hidden)
        else:
            shapes["y"].add(tuple(split.y.shape[1:]))
    for field, found in shapes.items():
        if len(found) > 1:
            raise DataError(f"{source}: the splits disagree on the shape of {field}: {sorted(found)}")
    x_shape = next(iter(shapes["x"]))
    image = data.image_shape
    if image is not None:
        if len(image) != 3:
            raise DataError(f"{source} declares image_shape {tuple(image)}; give (C, H, W)")
        if data.input_mask is None and tuple(image) != x_shape:
            raise DataError(f"{source} declares images of shape {tuple(image)} but its examples x have shape {x_shape}")
    mask = data.input_mask
    if mask is not None:
        if image is None or tuple(mask.shape) != tuple(image):
            raise DataError(f"{source}: input_mask must have the shape of image_shape {image}")
        y_shape = next(iter(shapes["y"]), ())
        inputs, outputs = int(mask.sum()), int((~mask).sum())
        if (inputs, outputs) != (math.prod(x_shape), math.prod(y_shape)):
            raise DataError(
                f"{source}: input_mask marks {inputs} input and {outputs} output pixels, but x has "
                f"{math.prod(x_shape)} values and y {math.prod(y_shape)}"
            )


def _check_values(values: Tensor, levels: int | None, where: str) -> None:
    if values.dtype in INTEGER_DTYPES:
        if levels is None:
            raise DataError(f"{where} is integer data ({values.dtype}) but the dataset declares no levels")
        outside = _count((values < 0) | (values > levels - 1))
        if outside:
            raise DataError(
                f"{where} has {outside} values outside 0..{levels - 1}, the {levels} declared levels "
                f"(min {int(values.min())}, max {int(values.max())})"
            )
        return
    if not values.is_floating_point():
        raise DataError(f"{where} is of type {values.dtype}; give floating-point or integer values")
    bad = _count(~torch.isfinite(values))
    if bad:
        raise DataError(f"{where} has {bad} NaN or infinite values")
    if levels is None:
        return
    outside = _count((values < 0) | (values > 1))
    if outside:
        raise DataError(
            f"{where} has {outside} values outside [0, 1] (min {values.min().item():g}, max {values.max().item():g}) "
            f"but the dataset declares {levels} grey levels"
        )
    scaled = values * (levels - 1)
    off = _count((scaled - scaled.round()).abs() > GRID_TOLERANCE)
    if off:
        raise DataError(f"{where} has {off} values off the grid k / {levels - 1} of its {levels} declared levels")


def check_values(data: Dataset) -> None:
    """Every split's raw values, before any transform: no NaN or infinity, within the declared levels."""
    for name, split in data.splits().items():
        _check_values(split.x, data.levels, f"the {name} split of {data.name}, x,")
        if split.y is not None and data.num_classes is None:
            _check_values(split.y, data.levels, f"the {name} split of {data.name}, y,")


def check_data(x: Tensor, support: Constraint, event_shape: tuple[int, ...] | None = None, what: str = "data") -> None:
    """Raise :class:`DataError` unless ``x`` is a finite float tensor (N, *event_shape) in ``support``."""
    if not isinstance(x, Tensor):
        raise DataError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise DataError(f"{what} must have shape (N, D) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise DataError(f"{what} is empty")
    if event_shape is not None and tuple(x.shape[1:]) != tuple(event_shape):
        raise DataError(f"{what} has examples of shape {tuple(x.shape[1:])}; the model expects {tuple(event_shape)}")
    if not x.is_floating_point():
        raise DataError(f"{what} must be a floating-point tensor, got {x.dtype}")
    bad = _count(~torch.isfinite(x))
    if bad:
        raise DataError(f"{what} has {bad} NaN or infinite values")
    name = support_name(support)
    if name != "real":
        outside = _count((x < 0) | (x > 1))
        if outside:
            raise DataError(
                f"{what} has {outside} values outside [0, 1] (min {x.min().item():g}, max {x.max().item():g})"
            )
    if support is constraints.boolean:
        grey = _count((x != 0) & (x != 1))
        if grey:
            raise DataError(
                f"{what} has {grey} values that are not 0 or 1 but the model has a Bernoulli likelihood; binarize it "
                '(data.binarize = "threshold" or "dynamic"; in Python, ppl_vae.data.transforms.binarize) or use a '
                "likelihood for grey levels"
            )


def check_unit_interval(values: Tensor, what: str, use: str) -> None:
    """A DataError unless ``values`` lie in [0, 1], which ``use`` (a transform or likelihood, named in the sentence)
    needs, whether or not the data declare levels; the advice covers data normalized to [-1, 1]."""
    outside = _count((values < 0) | (values > 1))
    if outside:
        low, high = values.min().item(), values.max().item()
        hint = " (data normalized to [-1, 1]: x = (x + 1) / 2)" if low >= -1 and high <= 1 else ""
        raise DataError(
            f"{what} has {outside} values outside [0, 1] (min {low:g}, max {high:g}), but {use} needs values in "
            f"[0, 1]; rescale the data to [0, 1]{hint}"
        )


def check_fit(data: Dataset, contract: ModelContract) -> None:
    """Every split of ``data`` (floating point, transformed) against what the model declares: the observed field
    present, finite, in the likelihood's support, on the declared grey levels; labels where the model reads them.
    The command line and the Python API (``Trainer``) run it alike."""
    if contract.conditioning is Conditioning.LABELS and data.num_classes is None:
        raise DataError(f"the model is conditioned on class labels y, but dataset '{data.name}' has no labels")
    if data.labelled is not None and not contract.label_latent:
        raise DataError(
            f"{data.name} keeps {len(data.labelled)} training labels and hides the others, but the model does not "
            "treat the label as a latent site: only a semi-supervised model (such as semi_supervised_vae) learns "
            'from unlabelled examples; remove data.labels (or set it to "all")'
        )
    for name, split in data.splits().items():
        where = f"the {name} split of {data.name}"
        scored = getattr(split, contract.observed)
        if scored is None:
            raise DataError(f"the model scores '{contract.observed}', which {where} does not have")
        if contract.observed == "y" and data.num_classes is not None:
            raise DataError(f"the model scores outputs y, but {where} holds class labels in y")
        dynamic = data.dynamic_binarization and name == "train"
        support = constraints.unit_interval if dynamic else contract.support
        check_data(scored, support, what=f"{where}, {contract.observed},")
        if data.levels is not None and not dynamic:
            _check_values(scored, data.levels, f"{where}, {contract.observed},")
        if contract.conditioning is Conditioning.LABELS:
            hidden = data.labelled is not None and name != "test"
            check_labels(split.y, data.num_classes, len(split), f"{where}, labels y", hidden)


def one_hot_labels(
    y: Tensor | None, num_classes: int, n: int | None = None, what: str = "labels y", dtype: torch.dtype = torch.float32
) -> Tensor:
    """Checked labels (n,) as one-hot rows (n, num_classes) of ``dtype``; see :func:`check_labels`."""
    check_labels(y, num_classes, n, what)
    return torch.nn.functional.one_hot(y.long(), num_classes).to(dtype)
