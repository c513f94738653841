"""Find and load the inference weights: the shipped ones in talkinghead/weights/ or a
user's `--checkpoint DIR` in the same layout (+ manifest.json):

    motion.pt                 AU -> landmark motion (the warp renderer, the default)
    refiner.pt                GATH-W mouth refiner on top of the warp (`--generator gath_w`)
    generator.pt / generator_lite.pt   GATH generator (`--generator gath`)
    audio2au.pt               speech -> AUs

Every failure (missing folder or file, corrupt file, AU vectors that do not agree) becomes
a one-line UserError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from actionunits.checkpoint import CheckpointError, resolve_device
from talkinghead.errors import UserError

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights"
MOTION_FILE = "motion.pt"
GENERATOR_FILE = "generator.pt"
LITE_GENERATOR_FILE = "generator_lite.pt"  # picked on CPU when present: the faster variant
AUDIO2AU_FILE = "audio2au.pt"
REFINER_FILE = "refiner.pt"
GENERATORS = ("warp", "gath_w", "gath")  # what --generator chooses between
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class ModelOptions:
    """Which renderer and weights, on which device (the CLI's model and device groups)."""

    generator: str = "warp"  # warp (the default renderer) | gath_w (warp + learned mouth) | gath
    checkpoint: Path | None = None  # weights folder; None: the shipped weights
    device: str = "auto"  # where GATH and audio2au run; the warp runs on the CPU
    lite: bool = False  # gath: the lite generator also on CUDA (on CPU it is the default)

    def check(self) -> None:
        if self.generator not in GENERATORS:
            raise UserError(f"--generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}")
        if self.device not in DEVICES:
            raise UserError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")


def weights_dir(checkpoint: str | Path | None) -> Path:
    d = Path(checkpoint) if checkpoint is not None else DEFAULT_WEIGHTS
    if not d.is_dir():
        raise UserError(f"checkpoint folder {d} not found")
    return d


def _missing(d: Path, name: str, checkpoint: str | Path | None) -> UserError:
    if checkpoint is None:
        return UserError(f"this installation has no {name} in {d}; pass --checkpoint DIR")
    return UserError(f"no {name} in checkpoint folder {d}")


def load_motion(checkpoint: str | Path | None = None):
    """The warp renderer's AU -> motion model."""
    from talkinghead.face.motion import MotionModel

    d = weights_dir(checkpoint)
    if not (d / MOTION_FILE).is_file():
        raise _missing(d, MOTION_FILE, checkpoint)
    try:
        return MotionModel.load(d / MOTION_FILE)
    except CheckpointError as e:
        raise UserError(str(e).splitlines()[0]) from None


def gath_file(checkpoint: str | Path | None, prefer_lite: bool = False) -> Path:
    """A generator file as given, or in a weights folder generator.pt, or generator_lite.pt
    when asked for (CPU) or the only one there."""
    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint)
    d = weights_dir(checkpoint)
    full, lite = d / GENERATOR_FILE, d / LITE_GENERATOR_FILE
    if not full.is_file() and not lite.is_file():
        raise _missing(d, GENERATOR_FILE, checkpoint)
    return lite if lite.is_file() and (prefer_lite or not full.is_file()) else full


def load_gath(checkpoint: str | Path | None, device: str = "auto", prefer_lite: bool | None = None):
    """The GATH generator on its device (`prefer_lite` None: the lite one on CPU when
    present; True: the lite one; False: the full one when present), a few words
    saying which one it is (and whether it is a placeholder: weights marked `placeholder`
    in their metadata were not trained to quality, and users should know why the video
    looks wrong), and its metadata. The one way every command loads a generator."""
    from gath.checkpoint import load_model
    from gath.inference import FaceAnimator
    from gath.models import Generator

    try:
        dev = resolve_device(device)
        path = gath_file(checkpoint, dev.type == "cpu" if prefer_lite is None else prefer_lite)
        generator, meta = load_model(path, "generator", Generator)
        animator = FaceAnimator(generator, meta, device)
    except (CheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    words = "GATH lite generator" if path.name == LITE_GENERATOR_FILE else "GATH generator"
    return animator, words + (", PLACEHOLDER weights" if meta.get("placeholder") else ""), meta | {"path": str(path)}


def load_refiner(checkpoint: str | Path | None, device: str = "auto"):
    """GATH-W's mouth refiner (talkinghead.refiner.MouthRefiner) from a weights folder."""
    from talkinghead.refiner import load_refiner as load

    d = weights_dir(checkpoint)
    if not (d / REFINER_FILE).is_file():
        raise _missing(d, REFINER_FILE, checkpoint)
    try:
        return load(d / REFINER_FILE, resolve_device(device))
    except (CheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None


def load_audio2au(checkpoint: str | Path | None, au_names: tuple[str, ...], device: torch.device | str = "cpu"):
    """The audio2au model, refused when its AU vector is not the renderer's."""
    from audio2au import CheckpointError as Audio2AUCheckpointError
    from audio2au import load_audio2au as load

    d = weights_dir(checkpoint)
    if not (d / AUDIO2AU_FILE).is_file():
        raise _missing(d, AUDIO2AU_FILE, checkpoint)
    try:
        model = load(d / AUDIO2AU_FILE, torch.device(device))
        model.check_au_names(au_names)
    except (Audio2AUCheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    return model


class AnimatorFactory:
    """The chosen renderer's weights, loaded before any photo (so a bad checkpoint fails
    first); `build(portrait)` then sets up one photo."""

    def __init__(self, model: ModelOptions, enhance=None, crop_height: int | None = None) -> None:
        model.check()
        if model.generator != "gath" and enhance is not None and enhance.any:
            raise UserError("--enhance post-processes GATH syntheses; use it with --generator gath")
        self.enhance, self.crop_height = enhance, crop_height
        self.refiner = None
        if model.generator != "gath":
            from actionunits import AU_NAMES

            self.motion = load_motion(model.checkpoint)
            self.gath, self.words = None, "warp renderer"
            self.au_names: tuple[str, ...] = tuple(n for n in AU_NAMES if n in self.motion.au_names)
            self.device = torch.device("cpu")
            if model.generator == "gath_w":
                self.refiner = load_refiner(model.checkpoint, model.device)
                self.words = f"warp renderer + GATH-W mouth ({self.refiner.steps} steps)"
        else:
            self.gath, self.words, _ = load_gath(model.checkpoint, model.device, True if model.lite else None)
            self.au_names = self.gath.au_names
            self.device = self.gath.device

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def build(self, portrait):
        from talkinghead.portrait import GathAnimator, WarpAnimator

        if self.gath is not None:
            return GathAnimator(self.gath, portrait, self.enhance, self.crop_height)
        return WarpAnimator(portrait, self.motion, self.crop_height, self.refiner)
