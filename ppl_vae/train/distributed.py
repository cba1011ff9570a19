"""Data-parallel training over several processes (``torchrun``), with ``torch.distributed``.

``torchrun --nproc_per_node=N -m ppl_vae train EXPERIMENT`` starts N processes (ranks); each
reads the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) and joins one process group: gloo on the CPU, NCCL on GPUs (``training.backend``).
What the engine does with it:

- every rank builds the same pair (same seed), then takes rank 0's parameters;
- ``training.batch_size`` is the *global* batch: each of the W ranks takes every W-th example of
  every global batch of the shared, per-epoch shuffled order (so the ranks see disjoint shards
  of every epoch, together exactly the single-process batches), and the per-rank batch is
  batch_size / W (W must divide it);
- each rank's loss is its examples' sum divided by the global batch size, and gradients are
  summed over the ranks before clipping and the optimizer step: the update is the single-process
  update, up to floating-point summation order. The SVI strategy sums them with torch's
  ``DistributedDataParallel`` (:meth:`World.data_parallel`: in buckets, during the backward pass);
  a step in which some rank's share is empty (a last global batch smaller than the number of
  ranks), and the adversarial strategies' phases, sum them in one all-reduce after the backward
  pass (:meth:`World.sum_gradients`);
- validation is sharded the same way and reduced; rank 0 decides early stopping and broadcasts it;
- only rank 0 writes the run directory (and holds its lock), checkpoints and the report; the
  checkpoint keeps every rank's random state, so a run resumes exactly with the same world size
  (and is refused with another);
- rank r draws its sampling noise from the seed ``training.seed + RANK_SEED_STRIDE * r``.

Several machines: run the same ``torchrun`` on each with ``--nnodes``, ``--node_rank`` and
``--rdzv-endpoint`` (or ``--master_addr``/``--master_port``), as torchrun documents.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ppl_vae.core.errors import ConfigError, RunError, UserError

RANK_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: ``rank`` of ``size`` (1: not distributed)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the rank that writes (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def shard(self, values: torch.Tensor) -> torch.Tensor:
        """This rank's part of ``values`` (positions rank, rank + size, ...)."""
        return values[self.rank :: self.size]

    def all_sum(self, value: float | torch.Tensor) -> float | torch.Tensor:
        """The sum of ``value`` over the ranks (a float or a tensor, reduced in place)."""
        if not self.active:
            return value
        import torch.distributed as dist

        tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value), dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor if isinstance(value, torch.Tensor) else tensor.item()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object) on every rank."""
        if not self.active:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        if not self.active:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.size
        dist.all_gather_object(gathered, value)
        return gathered

    def sum_gradients(self, parameters: list[nn.Parameter]) -> None:
        """Gradients summed over the ranks, in place, in one all-reduce of their concatenation (a rank whose
        batch was empty contributes zeros)."""
        if not self.active:
            return
        import torch.distributed as dist

        for parameter in parameters:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
        flat = torch.cat([p.grad.reshape(-1) for p in parameters])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for parameter in parameters:
            parameter.grad.copy_(flat[offset : offset + parameter.numel()].view_as(parameter.grad))
            offset += parameter.numel()

    def data_parallel(self, module: nn.Module) -> nn.Module:
        """``module`` wrapped in torch's ``DistributedDataParallel``: calling it then backpropagating sums the
        gradients over the ranks while the backward pass runs (in buckets, overlapping communication with
        computation), instead of one all-reduce after it. Summed, not averaged as DDP does by default: each
        rank's loss is already its examples' sum over the global batch. Buffers (constants here) are not
        broadcast at every call."""
        from torch.nn.parallel import DistributedDataParallel

        device = next(module.parameters()).device
        wrapped = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False
        )
        wrapped.register_comm_hook(None, _summed)
        return wrapped

    def broadcast_parameters(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        if not self.active:
            return
        import torch.distributed as dist

        for tensor in (*module.parameters(), *module.buffers()):
            dist.broadcast(tensor.data, src=0)


def _summed(_, bucket):
    """DDP communication hook: the bucket's gradients summed over the ranks (the default hook averages)."""
    import torch.distributed as dist

    return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda done: done.value()[0])


SINGLE = World()


def world_from_environment() -> World:
    """The world torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), or a single process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def rank_device(name: str, world: World) -> str:
    """The device of this rank: ``cuda`` and ``auto`` with GPUs become ``cuda:LOCAL_RANK``."""
    if world.active and (name == "cuda" or (name == "auto" and torch.cuda.is_available())):
        return f"cuda:{world.local_rank}"
    return name


def join(world: World, backend: str, device: torch.device) -> None:
    """Join the process group of ``world`` (gloo on the CPU, NCCL on GPUs; ``backend`` may ask for one)."""
    if not world.active:
        return
    import torch.distributed as dist

    chosen = ("nccl" if device.type == "cuda" else "gloo") if backend == "auto" else backend
    if chosen == "nccl" and device.type != "cuda":
        raise ConfigError(f"training.backend 'nccl' needs CUDA GPUs, but this rank trains on {device}; use gloo")
    if not dist.is_initialized():
        dist.init_process_group(chosen, rank=world.rank, world_size=world.size)


def leave(world: World) -> None:
    """Destroy the process group this rank joined, if any (every rank, once it is done): a gloo group left
    to the interpreter's shutdown can abort the process (SIGABRT) while its worker threads still hold work."""
    if not world.active:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def end_helper_rank() -> None:
    """End a rank other than 0 once its training succeeded and its group is destroyed: flush, then ``os._exit(0)``.
    It wrote nothing, so there is nothing to finalize; interpreter finalization is where gloo's threads
    aborted such a rank (SIGABRT, "terminate called without an active exception") while rank 0 was still
    writing its report, on a loaded machine."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def connect(world: World, device: str, backend: str) -> tuple[torch.device, str | None]:
    """This rank's device (``ppl_vae.core.devices.resolve_device`` of :func:`rank_device`) and a note for
    ``auto``, after joining the process group; idempotent."""
    from ppl_vae.core.devices import resolve_device

    resolved, note = resolve_device(rank_device(device, world))
    join(world, backend, resolved)
    return resolved, note


def check_batch(world: World, batch_size: int) -> None:
    """Refuse a global batch that the ranks cannot share evenly."""
    if not world.active:
        return
    if batch_size < world.size:
        raise ConfigError(
            f"{world.size} processes need at least as many examples per batch; training.batch_size is {batch_size}"
        )
    if batch_size % world.size:
        low = batch_size - batch_size % world.size
        raise ConfigError(
            f"training.batch_size {batch_size} (the global batch) is not divisible by the {world.size} processes; "
            f"give {low} or {low + world.size}"
        )


def on_main(world: World, action: Callable[[], Any]) -> Any:
    """``action()`` on rank 0 only (writing the run directory); a user error it raises is raised on every
    rank, so that no rank trains on alone. Returns its result on rank 0, None elsewhere."""
    error, result = None, None
    if world.main:
        try:
            result = action()
        except UserError as raised:
            error = raised
    message = world.broadcast(None if error is None else str(error))
    if error is not None:
        raise error
    if message is not None:
        raise RunError(message)
    return result
