"""Where the inference weights live: the shipped ones in talkinghead/weights/ or a user's
`--checkpoint DIR` in the same layout (+ manifest.json). Each renderer module names and
loads its own files (renderers/warp.py: motion.pt, renderers/gath_w.py:
refiner.pt, renderers/gath.py: generator.pt / generator_lite.pt); audio2au's two files are
loaded here: audio2au.pt, the offline model (bidirectional: it hears what comes next, for
render), and audio2au_stream.pt, the streaming one (live); so is head_motion.pt, the
speech -> head pose model (one file for both). Every failure becomes a one-line UserError.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from talkinghead.errors import UserError

if TYPE_CHECKING:
    from audio2au.head_motion import HeadMotion

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights"
AUDIO2AU_FILE = "audio2au.pt"
AUDIO2AU_STREAM_FILE = "audio2au_stream.pt"
HEAD_MOTION_FILE = "head_motion.pt"
DEVICES = ("auto", "cpu", "cuda")


def weights_dir(checkpoint: str | Path | None) -> Path:
    d = Path(checkpoint) if checkpoint is not None else DEFAULT_WEIGHTS
    if not d.is_dir():
        raise UserError(f"checkpoint folder {d} not found")
    return d


def weights_file(checkpoint: str | Path | None, name: str) -> Path:
    """`name` in the weights folder, or a UserError saying it is missing. A checkpoint that
    is one weights file stands for itself where it has this name, the shipped weights for
    the other files (`eval --variant w=runs/gath_w/refiner.pt`)."""
    if checkpoint is not None and Path(checkpoint).is_file():
        if Path(checkpoint).name == name:
            return Path(checkpoint)
        checkpoint = None
    d = weights_dir(checkpoint)
    if not (d / name).is_file():
        raise missing(d, name, checkpoint)
    return d / name


def missing(d: Path, name: str, checkpoint: str | Path | None) -> UserError:
    if checkpoint is None:
        return UserError(f"this installation has no {name} in {d}; pass --checkpoint DIR")
    return UserError(f"no {name} in checkpoint folder {d}")


def load_audio2au(
    checkpoint: str | Path | None, au_names: tuple[str, ...], device: torch.device | str = "cpu", stream: bool = False
):
    """The audio2au model (`stream`: the streaming one), refused when its AU vector is not
    the renderer's. A checkpoint without audio2au_stream.pt streams with its audio2au.pt
    (a streaming model serves both, as every audio2au.pt before the offline one did)."""
    from audio2au import CheckpointError as Audio2AUCheckpointError
    from audio2au import load_audio2au as load

    own_stream = checkpoint is None or Path(checkpoint).name == AUDIO2AU_STREAM_FILE
    own_stream = own_stream or (Path(checkpoint) / AUDIO2AU_STREAM_FILE).is_file()
    path = weights_file(checkpoint, AUDIO2AU_STREAM_FILE if stream and own_stream else AUDIO2AU_FILE)
    try:
        model = load(path, torch.device(device))
        model.check_au_names(au_names)
    except (Audio2AUCheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    return model


def load_head_motion(checkpoint: str | Path | None) -> HeadMotion:
    """The speech -> head pose model (head_motion.pt); a checkpoint without one (trained
    before heads moved, or a single other weights file) moves the head with the shipped one."""
    from actionunits.checkpoint import CheckpointError
    from audio2au.head_motion import HeadMotion

    own = checkpoint is not None and (Path(checkpoint) / HEAD_MOTION_FILE).is_file()
    own = own or (checkpoint is not None and Path(checkpoint).name == HEAD_MOTION_FILE)
    path = weights_file(checkpoint if own else None, HEAD_MOTION_FILE)
    try:
        return HeadMotion.load(path)
    except CheckpointError as e:
        raise UserError(str(e).splitlines()[0]) from None
