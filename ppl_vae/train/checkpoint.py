"""Checkpoints written atomically and read back with checks.

A checkpoint is a dict of tensors and plain values saved with ``torch.save``, written atomically
(``ppl_vae.core.files``): a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ppl_vae.core.errors import CheckpointError, one_line
from ppl_vae.core.files import atomic_write_bytes

FORMAT = "ppl_vae.checkpoint/2"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU (modules and optimizers move it to their device when loading it);
    raise :class:`CheckpointError` if it is missing, corrupt or foreign."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(error).__name__}: {one_line(error)})"
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ppl_vae checkpoint (expected format {FORMAT})")
    return state


def load_state(target: Any, state: dict[str, Any], what: str, path: Path) -> None:
    """``target.load_state_dict(state)`` (a module, an optimizer, a strategy), with a state that does not fit
    reported as :class:`CheckpointError` naming ``what`` and ``path``."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        first = str(error).strip().splitlines()
        raise CheckpointError(
            f"checkpoint {path} does not fit the experiment's {what}: {' '.join(first[:3])}"
        ) from error
