"""Checkpoints: full training state (resume) and fp16 inference weights (ship).

Everything is a plain dict of tensors and primitives saved with torch.save and loaded
with weights_only=True. Inference files are listed with their SHA-256 in a manifest.json
beside them, verified at load so a truncated or corrupt file is a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit what it is loaded for."""


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temp file in the same folder, then rename: a kill never leaves a
    half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Load a checkpoint dict (weights_only) and check its kind and format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    _verify_manifest(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} is corrupt or not a talkinghead checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has an unknown format")
    if kind is not None and ckpt.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {ckpt.get('kind')!r}, expected {kind!r}")
    return ckpt


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify_manifest(path: Path) -> None:
    manifest = path.parent / MANIFEST
    if not manifest.is_file():
        return
    expected = json.loads(manifest.read_text()).get(path.name)
    if expected is not None and sha256(path) != expected:
        raise CheckpointError(f"checkpoint {path} does not match its SHA-256 in {manifest} (corrupt or truncated)")


def _update_manifest(path: Path) -> None:
    manifest = path.parent / MANIFEST
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    entries[path.name] = sha256(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{MANIFEST}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(dict(sorted(entries.items())), f, indent=2)
        f.write("\n")
    os.replace(tmp, manifest)


def export_weights(path: str | os.PathLike, kind: str, model: nn.Module, config: dict, meta: dict,
                   half: bool = True) -> Path:
    """Save inference weights (fp16 floats by default) with the constructor config and
    metadata (AU names, crop size, ...), and record the file's SHA-256 in the manifest."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    atomic_save({"format_version": FORMAT_VERSION, "kind": kind, "config": config, "state_dict": state, **meta}, path)
    _update_manifest(path)
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


def save_training_state(path: str | os.PathLike, kind: str, step: int, modules: dict[str, nn.Module],
                        optimizers: dict[str, torch.optim.Optimizer], generators: dict[str, torch.Generator],
                        rng: dict, config: dict, meta: dict) -> None:
    """Everything `resume` needs to continue exactly: weights, optimizer moments, step,
    the batch samplers' generators and the global RNG state."""
    atomic_save({
        "format_version": FORMAT_VERSION, "kind": kind, "step": step, "config": config, "rng": rng,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "generators": {k: g.get_state() for k, g in generators.items()},
        **meta,
    }, path)


def restore_training_state(path: str | os.PathLike, kind: str, modules: dict[str, nn.Module],
                           optimizers: dict[str, torch.optim.Optimizer],
                           generators: dict[str, torch.Generator]) -> dict:
    """Load a training checkpoint into unwrapped modules, optimizers and generators; returns
    the checkpoint (for its step, rng and meta)."""
    ckpt = load(path, kind)
    try:
        for k, m in modules.items():
            m.load_state_dict(ckpt["modules"][k])
        for k, o in optimizers.items():
            o.load_state_dict(ckpt["optimizers"][k])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"cannot resume from {path}: it was made with another configuration "
                              f"({str(e).splitlines()[0]})") from None
    for k, g in generators.items():
        g.set_state(ckpt["generators"][k])
    return ckpt
