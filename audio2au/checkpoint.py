"""audio2au checkpoints: plain dicts of tensors and primitives (torch.save), always loaded
with weights_only=True.

Both the training checkpoint (adds optimizer state and step) and the fp16 inference export
carry: format_version, kind, au_names, fps, features (FeatureConfig), model (constructor
arguments of Audio2AUNet, plus `members` for an Audio2AUEnsemble) and state_dict (with the
feature normalisation buffers).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from actionunits.checkpoint import FORMAT_VERSION, CheckpointError, load
from audio2au.features import FeatureConfig
from audio2au.model import Audio2AU, Audio2AUEnsemble, Audio2AUNet

KIND = "audio2au"


def checkpoint_dict(model: Audio2AU, half: bool = False, **extra: Any) -> dict:
    """The checkpoint of `model`; `half` stores floating weights as fp16 (inference export)."""
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
        for k, v in model.net.state_dict().items()
    }
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "au_names": list(model.au_names),
        "fps": float(model.fps),
        "features": model.features.to_dict(),
        "model": dict(model.meta["model"]),
        "state_dict": state,
        "info": dict(model.meta.get("info", {})),
        **extra,
    }


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load (weights_only, SHA-256 checked against a manifest.json beside it) and check the kind."""
    return load(path, KIND)


def from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> Audio2AU:
    """Rebuild the model (float32, eval mode) from a checkpoint dict."""
    args = ckpt["model"]
    net = Audio2AUEnsemble(**args) if "members" in args else Audio2AUNet(**args)
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {str(e).splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer")}
    return Audio2AU(
        net.to(device).eval(), FeatureConfig(**ckpt["features"]), tuple(ckpt["au_names"]), float(ckpt["fps"]), meta
    )


def load_audio2au(path: str | os.PathLike, device: str | torch.device = "cpu") -> Audio2AU:
    """Load a training checkpoint or an fp16 export for inference."""
    return from_checkpoint(read_checkpoint(path), device)


def ensemble_checkpoint(members: list[dict]) -> dict:
    """One fp16 checkpoint averaging `members` (inference exports of one recipe, different
    seeds); raises CheckpointError when they do not predict the same thing the same way."""
    if not members:
        raise CheckpointError("an ensemble needs at least one member")
    first = members[0]
    if any("members" in m["model"] for m in members):
        raise CheckpointError("ensemble members must be single networks, not ensembles")
    for key in ("au_names", "fps", "features", "model"):
        if any(m[key] != first[key] for m in members[1:]):
            raise CheckpointError(f"ensemble members differ in {key}")
    state = {
        f"members.{i}.{k}": v.half() if v.is_floating_point() else v
        for i, m in enumerate(members)
        for k, v in m["state_dict"].items()
    }
    return {
        **{k: first[k] for k in ("format_version", "kind", "au_names", "fps", "features")},
        "model": {"members": len(members), **first["model"]},
        "state_dict": state,
        "info": {"members": [m.get("info", {}) for m in members]},
    }
