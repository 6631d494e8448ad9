"""Data parallelism with ``torch.distributed``: the small helpers a ``torchrun`` script needs.

Explained in notebooks/07_scaling_out.ipynb, which launches scripts/ddp_train.py with ``torchrun``.

``torchrun`` starts one process per worker and tells each who it is through environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...). Each process then:

1. joins the process group (``init_distributed``: gloo on the CPU, NCCL on CUDA GPUs),
2. wraps the model in ``DistributedDataParallel``, which averages gradients across processes
   (an all-reduce) during ``backward()``,
3. trains on its own shard of every batch (``ShardedLoader``: every rank draws the same permutation,
   cuts the same global batches, and keeps its slice),
4. sums its metrics with the other ranks (``reduce_epoch_result``), lets only rank 0 print and save
   (``print0``, ``save_checkpoint_on_main``, ``write_json_on_main``),
5. leaves the process group (``cleanup``).

These are the few lines every DDP script repeats; ``ShardedLoader`` does on purpose, in the open, what
``DistributedSampler`` does (notebook 07 compares the two). Starting the processes from a notebook
(``torchrun_command``, ``run_torchrun``, ``ddp_script``) is the launcher's job: ``utils/launch.py``
(still importable from here).
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

from .checkpoints import atomic_write, save_checkpoint
from .checks import finite_number, integer, one_of, positive_int
from .device import to_device
from .training import EpochResult

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


# ----------------------------------------------------------------------------------------------- joining the group
@dataclass(frozen=True)
class DistInfo:
    """Who this process is: its ``rank`` among ``world_size`` processes, its ``local_rank`` on this
    machine, the ``backend`` of the process group and the ``device`` it trains on."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one process that prints and saves."""
        return self.rank == 0


def backend_for(device: torch.device | str) -> str:
    """The process-group backend for ``device``: ``"nccl"`` for CUDA GPUs, ``"gloo"`` for the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return "nccl"
    if device.type == "cpu":
        return "gloo"
    raise ValueError(f"device must be a CPU or CUDA device for torch.distributed here, got {device}")


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError(
            f"environment variable {name} is not set: this process was not started by torchrun. Launch it with "
            "`python -m torch.distributed.run --nproc_per_node=2 --standalone SCRIPT` (see notebooks/07_scaling_out.ipynb)."
        )
    return int(value)


def worker_device(preference: str, local_rank: int, local_world_size: int) -> torch.device:
    """The device of the worker with ``local_rank``: ``cuda:<local_rank>`` or ``cpu``.

    ``preference`` is ``"auto"`` (one GPU per process when this machine has a GPU for every local
    process, else the CPU), ``"cuda"`` or ``"cpu"``. NCCL needs a GPU of its own for every process, so two
    processes never share one GPU here.
    """
    one_of(preference, "device", ("auto", "cuda", "cpu"))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    enough_gpus = gpus >= local_world_size
    if preference == "cuda" and not enough_gpus:
        raise ValueError(
            f"device 'cuda' needs one GPU per process: {local_world_size} processes on this machine, {gpus} GPU(s); "
            "use device 'cpu' or 'auto', or fewer processes (--nproc_per_node)"
        )
    if preference == "cuda" or (preference == "auto" and enough_gpus):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str = "auto", *, timeout_s: float = 120.0) -> DistInfo:
    """Join the process group set up by ``torchrun`` and return this process's ``DistInfo``.

    Reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment, picks the device (see
    ``worker_device``) and the matching backend (gloo on CPU, NCCL on CUDA). Call ``cleanup()`` at the
    end, or use the ``distributed(...)`` context manager, which does both.
    """
    timeout_s = finite_number(timeout_s, "timeout_s (seconds)", low=0, low_open=True, example="120")
    rank, world_size, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    chosen = worker_device(device, local_rank, local_world_size)
    backend = backend_for(chosen)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        kwargs = {"device_id": chosen} if chosen.type == "cuda" else {}
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s), **kwargs)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, backend=backend, device=chosen)


def cleanup() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed(device: str = "auto", *, timeout_s: float = 120.0) -> Iterator[DistInfo]:
    """``with distributed() as info:`` joins the process group and always leaves it, even after an error."""
    info = init_distributed(device, timeout_s=timeout_s)
    try:
        yield info
    finally:
        cleanup()


def current_rank() -> int:
    """This process's rank, or 0 when there is no process group (a plain single process)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def current_world_size() -> int:
    """The number of processes in the group, or 1 when there is no process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


# ----------------------------------------------------------------------------------------------- sharding batches
def _check_rank(rank: int, world_size: int) -> tuple[int, int]:
    world_size = positive_int(world_size, "world_size")
    rank = integer(rank, "rank", minimum=0)
    if rank >= world_size:
        raise ValueError(f"rank must be an integer in 0..{world_size - 1} (world_size={world_size}), got {rank!r}")
    return rank, world_size


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous, equal share of ``n`` items.

    ``n`` must be divisible by ``world_size``: equal shards are what make the average of the ranks'
    mean losses equal to the mean loss of the whole batch (notebook 07 shows what goes wrong otherwise).
    """
    rank, world_size = _check_rank(rank, world_size)
    n = integer(n, "n (items to shard)", minimum=world_size)
    if n % world_size:
        raise ValueError(
            f"n={n} items cannot be split into {world_size} equal shards; use a global batch size divisible by "
            f"world_size (e.g. {n - n % world_size} or {n + world_size - n % world_size})"
        )
    size = n // world_size
    return rank * size, (rank + 1) * size


def shard(tensor: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s equal, contiguous slice of ``tensor`` along its first dimension."""
    start, stop = shard_bounds(len(tensor), rank, world_size)
    return tensor[start:stop]


class ShardedLoader:
    """Training batches for one rank: the same global batches on every rank, each rank keeps its slice.

    Every rank seeds the same generator, so every rank draws the same permutation each epoch, cuts it
    into global batches of ``global_batch_size`` and keeps slice ``rank`` of ``world_size`` of each.
    With ``world_size=1`` it yields the full batches of ``TensorLoader(dataset, global_batch_size,
    shuffle=True, seed=seed)``, which is what lets notebook 07 compare a 2-process run with a 1-process
    run sample for sample. An incomplete last global batch is dropped, so every rank takes the same
    number of steps on shards of the same size (``len(loader)`` is that number); notebook 07's one-process
    reference drops it too, by using this loader with ``world_size=1``.
    """

    def __init__(self, dataset: TensorDataset, global_batch_size: int, *, rank: int, world_size: int, seed: int = 0,
                 device: torch.device | str | None = None):
        rank, world_size = _check_rank(rank, world_size)
        if (isinstance(global_batch_size, bool) or not isinstance(global_batch_size, numbers.Integral)
                or global_batch_size < world_size or global_batch_size % world_size):
            raise ValueError(
                f"global_batch_size must be a positive multiple of world_size ({world_size}), got {global_batch_size!r}"
            )
        x, y = dataset.tensors
        if len(x) < global_batch_size:
            raise ValueError(f"the dataset has {len(x)} samples, fewer than global_batch_size={global_batch_size}")
        self.device = torch.device(device) if device is not None else x.device
        self.x, self.y = to_device(x, self.device), to_device(y, self.device)
        self.global_batch_size = int(global_batch_size)
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def batch_size(self) -> int:
        """Samples per step on this rank (the per-process batch)."""
        return self.global_batch_size // self.world_size

    def __len__(self) -> int:
        return len(self.x) // self.global_batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator)  # the same on every rank
        for step in range(len(self)):
            global_batch = order[step * self.global_batch_size:(step + 1) * self.global_batch_size]
            idx = to_device(shard(global_batch, self.rank, self.world_size), self.device)
            yield self.x[idx], self.y[idx]


# ----------------------------------------------------------------------------------------------- combining metrics
def all_reduce_sum(values: Sequence[float] | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Element-wise sum of ``values`` over all ranks (every rank gets the result); unchanged without a group."""
    tensor = torch.as_tensor(values, dtype=torch.float64).to(device).clone()
    if current_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu()


def reduce_epoch_result(result: EpochResult, device: torch.device | str = "cpu") -> EpochResult:
    """Combine the ``EpochResult`` of every rank into the result over all their samples.

    Averages are weighted by samples (sum of loss x samples, divided by the total), so the answer is the
    per-sample mean over the union of the shards even when shards differ in size.
    """
    loss_sum, correct, samples = all_reduce_sum(
        [result.loss * result.samples, result.accuracy * result.samples, result.samples], device).tolist()
    samples = max(samples, 1.0)
    return EpochResult(loss=loss_sum / samples, accuracy=correct / samples, samples=round(samples))


def gap_to_rank0(tensor: torch.Tensor) -> float:
    """Largest absolute difference, over all ranks, between a rank's ``tensor`` and rank 0's.

    Every rank must call it (it is a collective). 0.0 without a process group.
    """
    if current_world_size() == 1:
        return 0.0
    reference = tensor.detach().clone()
    dist.broadcast(reference, src=0)
    gap = (tensor.detach() - reference).abs().max().reshape(1)
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return gap.item()


def max_difference_across_ranks(model: nn.Module) -> float:
    """Largest absolute difference between any rank's parameters and rank 0's (0.0 without a group).

    DDP's promise: every replica applies the same averaged gradient, so the copies stay identical.
    """
    return gap_to_rank0(torch.cat([p.detach().reshape(-1) for p in unwrap(model).parameters()]))


# ----------------------------------------------------------------------------------------------- rank 0 speaks and saves
def print0(*args, rank: int | None = None, **kwargs) -> None:
    """``print`` on rank 0 only (``rank`` defaults to this process's rank), flushed at once."""
    if (current_rank() if rank is None else rank) == 0:
        print(*args, flush=True, **kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def barrier() -> None:
    """Wait until every rank reaches this line (a no-op without a process group)."""
    if current_world_size() > 1:
        dist.barrier()


def save_checkpoint_on_main(path: str | os.PathLike, model: nn.Module, **metadata) -> Path:
    """Rank 0 saves the unwrapped model with ``utils.save_checkpoint`` (atomic); the others wait for it.

    Saving the unwrapped model keeps the parameter names free of DDP's ``module.`` prefix, so the file
    loads into a plain model. Returns the path on every rank.
    """
    path = Path(path)
    if current_rank() == 0:
        save_checkpoint(path, unwrap(model), **metadata)
    barrier()
    return path


def write_json_atomic(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename (never half-written)."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=1)
    return Path(path)


def write_json_on_main(path: str | os.PathLike, data: dict) -> Path:
    """Rank 0 writes ``data`` as JSON (atomically); the others wait for it. Returns the path."""
    path = Path(path)
    if current_rank() == 0:
        write_json_atomic(path, data)
    barrier()
    return path
