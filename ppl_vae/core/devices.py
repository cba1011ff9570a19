"""Devices, dtypes and random streams: where tensors live and how their randomness is saved and forked.

Every tensor the engine makes is made on the device and in the dtype of the data or of the
pair's parameters; random draws come from the generator of that device. ``frozen`` forks the
random state of the CPU *and* of the accelerator in use, so evaluation never moves training's
random stream on either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ppl_vae.core.errors import ConfigError

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEVICE_DATA_FRACTION = 0.25  # data moves to an accelerator once when it takes at most this share of its memory


def resolve_device(name: str) -> tuple[torch.device, str | None]:
    """The device called ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``), and a note for ``auto``.

    ``auto`` picks CUDA, then MPS, then the CPU. Asking for a device that is not there is one sentence.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), f"device auto: using {torch.cuda.get_device_name()}"
        if torch.backends.mps.is_available():
            return torch.device("mps"), "device auto: using Apple MPS"
        return torch.device("cpu"), "device auto: no GPU found, training on the CPU"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device '{name}'; give auto, cpu, cuda, cuda:N or mps") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{name}' was asked for, but this machine has no CUDA GPU (use auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{name}' does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device '{name}' was asked for, but MPS is not available here (use auto or cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device '{name}'; give auto, cpu, cuda, cuda:N or mps")
    return device, None


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU for a module with neither)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _accelerators(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"devices": [device.index if device.index is not None else torch.cuda.current_device()]}
    if device.type == "mps":
        return {"devices": [0], "device_type": "mps"}
    return {"devices": []}


@contextlib.contextmanager
def forked(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """A private random stream seeded with ``seed`` on the CPU and on ``device`` (the global streams are restored
    afterwards)."""
    with torch.random.fork_rng(**_accelerators(torch.device(device))):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def frozen(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """No gradients, and a private random stream seeded with ``seed`` on the CPU and on ``device``
    (:func:`forked`)."""
    with torch.no_grad(), forked(seed, device):
        yield


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The random state of the CPU and, when training on one, of the accelerator (for checkpoints)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore :func:`rng_state` (the accelerator's part only when training on the same kind of device)."""
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)
    elif device.type == "mps" and "mps" in state:
        torch.mps.set_rng_state(state["mps"].cpu())


def fits_on(device: torch.device, nbytes: int) -> bool:
    """Whether ``nbytes`` of data should move to ``device`` once (True on the CPU)."""
    if device.type == "cuda":
        return nbytes <= DEVICE_DATA_FRACTION * torch.cuda.get_device_properties(device).total_memory
    return True
