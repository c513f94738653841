"""Checkpoint files shared by every room: a plain dict saved with torch.save, written
atomically, always loaded with weights_only=True, and, for shipped weights, listed with
its SHA-256 in a manifest.json beside it so a truncated or corrupt file is a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from actionunits.atomic import atomic_output

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit what it is loaded for."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temp file in the same folder, then rename: a kill never leaves a
    half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)
    return path


def load(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Load a checkpoint dict (weights_only) and check its kind and format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    verify_manifest(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a talkinghead checkpoint ({type(e).__name__})"
        ) from None
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


def verify_manifest(path: Path) -> None:
    manifest = path.parent / MANIFEST
    if not manifest.is_file():
        return
    expected = json.loads(manifest.read_text()).get(path.name)
    if expected is not None and sha256(path) != expected:
        raise CheckpointError(f"checkpoint {path} does not match its SHA-256 in {manifest} (corrupt or truncated)")


def update_manifest(path: Path) -> None:
    manifest = path.parent / MANIFEST
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    entries[path.name] = sha256(path)
    with atomic_output(manifest) as tmp:
        tmp.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without one is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for, but no CUDA GPU is available")
    return torch.device(device)
