"""Seeding, the device, mixed precision and the place of this process in a torchrun job."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

CPU = torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh generator for data loaders."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that still use the global state
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return torch.Generator().manual_seed(seed)


def select_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when a GPU is visible, else the CPU; `cuda` without a GPU is an error."""
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device: expected auto, cpu or cuda[:N], got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device: {name!r} was asked for, but torch sees no CUDA GPU")
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing on the CPU (float32 there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """An NCHW tensor in channels_last memory (faster convolutions on CUDA and on the CPU)."""
    return x.contiguous(memory_format=torch.channels_last)


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone), and its device.

    Under torchrun each process takes the GPU of its local rank (`torch.cuda.set_device`
    before the process group starts, so NCCL uses it), or shares the CPU over gloo. Collective
    operations use tensors on that device, as NCCL requires. Only rank 0 writes files.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = CPU

    @classmethod
    def start(cls, device: torch.device) -> Distributed:
        """Join the torchrun job described by the environment, if there is one."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls(device=device)
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), world, local_rank, device)

    @property
    def main(self) -> bool:
        """True on the process that validates, logs and writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (nothing to wait for when alone)."""
        if self.world > 1:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every process when `flag` is true on any."""
        if self.world == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value)
        return bool(value.item())

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """`module` under DistributedDataParallel in a job, else itself."""
        if self.world == 1:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
