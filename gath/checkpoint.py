"""GATH checkpoints: full training state (resume) and fp16 inference weights (ship), on
top of the shared checkpoint file format in actionunits.checkpoint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from actionunits.checkpoint import FORMAT_VERSION, CheckpointError, atomic_save, load, update_manifest

__all__ = [
    "CheckpointError",
    "export_weights",
    "load",
    "load_model",
    "resume",
    "save_training_state",
]


def export_weights(
    path: str | os.PathLike, kind: str, model: nn.Module, config: dict, meta: dict, half: bool = True
) -> Path:
    """Save inference weights (fp16 floats by default) with the constructor config and
    metadata (AU names, crop size, ...), and record the file's SHA-256 in the manifest."""
    path = Path(path)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
        for k, v in model.state_dict().items()
    }
    atomic_save({"format_version": FORMAT_VERSION, "kind": kind, "config": config, "state_dict": state, **meta}, path)
    update_manifest(path)
    return path


def load_model(path: str | os.PathLike, kind: str, build: Any) -> tuple[nn.Module, dict]:
    """Build `build(**config)` from an exported checkpoint, load its weights in float32,
    switch to eval mode. Returns (model, checkpoint dict without the weights)."""
    ckpt = load(path, kind)
    model = build(**ckpt["config"])
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path} does not fit the {kind} model: {str(e).splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.eval(), meta


def save_training_state(
    path: str | os.PathLike,
    kind: str,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    generators: dict[str, torch.Generator],
    rng: dict,
    config: dict,
    meta: dict,
) -> None:
    """Everything `resume` needs to continue exactly: weights, optimizer moments, step,
    the batch samplers' generators and the global RNG state."""
    atomic_save(
        {
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "step": step,
            "config": config,
            "rng": rng,
            "modules": {k: m.state_dict() for k, m in modules.items()},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "generators": {k: g.get_state() for k, g in generators.items()},
            **meta,
        },
        path,
    )


def resume(
    path: str | os.PathLike,
    kind: str,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    generators: dict[str, torch.Generator],
) -> int:
    """Continue a run exactly: load a training checkpoint into unwrapped modules, optimizers
    and generators, restore the global RNG; its step."""
    from actionunits.training import set_rng_state

    ckpt = load(path, kind)
    try:
        for k, m in modules.items():
            m.load_state_dict(ckpt["modules"][k])
        for k, o in optimizers.items():
            o.load_state_dict(ckpt["optimizers"][k])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"cannot resume from {path}: it was made with another configuration ({str(e).splitlines()[0]})"
        ) from None
    for k, g in generators.items():
        g.set_state(ckpt["generators"][k])
    set_rng_state(ckpt["rng"])
    return int(ckpt["step"])
