"""audio2au checkpoints: plain dicts of tensors and primitives (torch.save), always loaded
with weights_only=True.

Both the training checkpoint (adds optimizer state and step) and the fp16 inference export
carry: format_version, kind, au_names, fps, features (FeatureConfig), model (constructor
arguments of Audio2AUNet) and state_dict (with the feature normalisation buffers).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from audio2au.features import FeatureConfig
from audio2au.model import Audio2AU, Audio2AUNet

FORMAT_VERSION = 1
KIND = "audio2au"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or not an audio2au checkpoint."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temp file beside `path`, then rename: never a half-written file."""
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
    return path


def checkpoint_dict(model: Audio2AU, half: bool = False, **extra: Any) -> dict:
    """The checkpoint of `model`; `half` stores floating weights as fp16 (inference export)."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.net.state_dict().items()}
    return {"format_version": FORMAT_VERSION, "kind": KIND, "au_names": list(model.au_names), "fps": float(model.fps),
            "features": model.features.to_dict(), "model": dict(model.meta["model"]), "state_dict": state,
            "info": dict(model.meta.get("info", {})), **extra}


def read_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"audio2au checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise CheckpointError(f"{path} is not an audio2au checkpoint")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {ckpt.get('format_version')}, expected {FORMAT_VERSION}")
    return ckpt


def from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> Audio2AU:
    """Rebuild the model (float32, eval mode) from a checkpoint dict."""
    net = Audio2AUNet(**ckpt["model"])
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {str(e).splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer")}
    return Audio2AU(net.to(device).eval(), FeatureConfig(**ckpt["features"]), tuple(ckpt["au_names"]),
                    float(ckpt["fps"]), meta)


def load_audio2au(path: str | os.PathLike, device: str | torch.device = "cpu") -> Audio2AU:
    """Load a training checkpoint or an fp16 export for inference."""
    return from_checkpoint(read_checkpoint(path), device)
