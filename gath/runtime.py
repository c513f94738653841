"""What the training loops share: device and precision choice, torchrun (DDP) set-up,
graceful stop on SIGINT/SIGTERM, and TensorBoard logging on the main rank only."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from actionunits.checkpoint import resolve_device
from actionunits.training import rng_state
from gath.checkpoint import save_training_state


@dataclass
class Runtime:
    device: torch.device
    rank: int
    world_size: int
    bf16: bool
    channels_last: bool
    compile: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, module: nn.Module, ddp: bool = True) -> nn.Module:
        """Move to the device (channels_last, compile where configured) and wrap in DDP
        when running under torchrun."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        if ddp and self.world_size > 1:
            module = DistributedDataParallel(
                module, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.compile:
            module = torch.compile(module)
        return module

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def saver(
        self,
        path: str | os.PathLike,
        kind: str,
        modules: dict[str, nn.Module],
        optimizers: dict,
        generators: dict,
        config: dict,
        meta: dict,
    ) -> Callable[[int], None]:
        """The `save(step)` a TrainLoop calls: the whole training state (`resume` continues
        from it exactly), the modules unwrapped from DDP, written by the main rank only."""

        def save(step: int) -> None:
            if self.is_main:
                nets = {k: unwrap(m) for k, m in modules.items()}
                save_training_state(path, kind, step, nets, optimizers, generators, rng_state(), config, meta)

        return save


def setup_runtime(device: str, precision: str, channels_last: str | bool, compile: bool) -> Runtime:
    """One process per GPU under torchrun (WORLD_SIZE set), else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device != "cpu"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    else:
        dev = resolve_device(device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    bf16 = {"auto": cuda, "bf16": True, "fp32": False}[precision]
    cl = cuda if channels_last == "auto" else bool(channels_last)
    return Runtime(dev, rank, world_size, bf16, cl, bool(compile))


def shutdown(runtime: Runtime) -> None:
    if runtime.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def descend(opt: torch.optim.Optimizer, terms: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """One optimizer step on `terms["total"]`; the terms, detached, named `prefix/term` for the log."""
    terms["total"].backward()
    opt.step()
    return {f"{prefix}/{k}": v.detach() for k, v in terms.items()}


def unwrap(module: nn.Module) -> nn.Module:
    """The plain model inside torch.compile / DDP wrappers (for state dicts and export)."""
    module = getattr(module, "_orig_mod", module)
    return module.module if isinstance(module, DistributedDataParallel) else module


def image_grid(*columns: torch.Tensor, n: int = 8) -> torch.Tensor:
    """(3, n*H, k*W) in [0, 1]: one row per sample, columns side by side (e.g. source |
    target | synthesis), for TensorBoard."""
    rows = torch.cat([c[:n].float() for c in columns], dim=-1)
    return rows.add(1).div(2).clamp(0, 1).permute(1, 0, 2, 3).reshape(3, -1, rows.shape[-1])
