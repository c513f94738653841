"""Find and load the inference weights: the shipped ones in talkinghead/weights/ or a
user's `--checkpoint DIR` holding generator.pt and audio2au.pt (+ manifest.json).

Every failure (missing folder or file, corrupt file, AU vectors of the two models that
do not agree) becomes a one-line UserError.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gath.checkpoint import CheckpointError, load_model
from actionunits.checkpoint import resolve_device
from gath.inference import FaceAnimator
from gath.models import Generator
from talkinghead.errors import UserError

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights"
GENERATOR_FILE = "generator.pt"
LITE_GENERATOR_FILE = "generator_lite.pt"  # picked on CPU when present: the faster variant
AUDIO2AU_FILE = "audio2au.pt"


def weights_dir(checkpoint: str | Path | None) -> Path:
    d = Path(checkpoint) if checkpoint is not None else DEFAULT_WEIGHTS
    if not (d / GENERATOR_FILE).is_file() and not (d / LITE_GENERATOR_FILE).is_file():
        if checkpoint is None:
            raise UserError(f"this installation has no trained weights ({d}/{GENERATOR_FILE}); pass --checkpoint DIR")
        raise UserError(f"no {GENERATOR_FILE} in checkpoint folder {d}" if d.is_dir() else
                        f"checkpoint folder {d} not found")
    return d


def load_animator(checkpoint: str | Path | None, device: str = "auto",
                  prefer_lite: bool = False) -> tuple[FaceAnimator, str]:
    """The generator on its device, and a few words saying which one was picked (and
    whether it is a placeholder: weights marked `placeholder` in their metadata were not
    trained on real faces, and users should know why the video looks wrong)."""
    d = weights_dir(checkpoint)
    try:
        dev = resolve_device(device)
        use_lite = ((prefer_lite or dev.type == "cpu") and (d / LITE_GENERATOR_FILE).is_file()
                    or not (d / GENERATOR_FILE).is_file())
        generator, meta = load_model(d / (LITE_GENERATOR_FILE if use_lite else GENERATOR_FILE), "generator", Generator)
        animator = FaceAnimator(generator, meta, device)
    except (CheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    words = "lite generator" if use_lite else "generator"
    return animator, words + (", PLACEHOLDER weights" if meta.get("placeholder") else "")


def load_audio2au(checkpoint: str | Path | None, au_names: tuple[str, ...], device: torch.device):
    """The audio2au model, refused when its AU vector is not the generator's."""
    from audio2au import CheckpointError as Audio2AUCheckpointError
    from audio2au import load_audio2au as load

    path = weights_dir(checkpoint) / AUDIO2AU_FILE
    try:
        model = load(path, device)
        model.check_au_names(au_names)
    except (Audio2AUCheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    return model
