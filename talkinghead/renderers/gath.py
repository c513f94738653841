"""The GATH renderer (`--generator gath`): the paper's generator redraws the aligned face
crop from the AUs, pasted back into the photo with a feathered edge. Its weights:
generator.pt or generator_lite.pt (the shipped lite one is a CPU placeholder, blurry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from actionunits.checkpoint import CheckpointError, resolve_device
from gath.postprocess import Enhance
from talkinghead.errors import UserError
from talkinghead.model_files import missing, weights_dir
from talkinghead.options import option
from talkinghead.portrait import Portrait
from talkinghead.renderers.animator import FullFrames, Renderer
from talkinghead.renderers.registry import ModelOptions, RendererSpec, register

GENERATOR_FILE = "generator.pt"
LITE_GENERATOR_FILE = "generator_lite.pt"  # picked on CPU when present: the faster variant


def gath_file(checkpoint: str | Path | None, prefer_lite: bool = False) -> Path:
    """A generator file as given, or in a weights folder generator.pt, or generator_lite.pt
    when asked for (CPU) or the only one there."""
    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint)
    d = weights_dir(checkpoint)
    full, lite = d / GENERATOR_FILE, d / LITE_GENERATOR_FILE
    if not full.is_file() and not lite.is_file():
        raise missing(d, GENERATOR_FILE, checkpoint)
    return lite if lite.is_file() and (prefer_lite or not full.is_file()) else full


def load_gath(checkpoint: str | Path | None, device: str = "auto", lite: bool | None = None):
    """The GATH generator on its device (`lite` None: the lite one on CPU when present;
    True: the lite one; False: the full one when present), a few words
    saying which one it is (and whether it is a placeholder: weights marked `placeholder`
    in their metadata were not trained to quality, and users should know why the video
    looks wrong), and its metadata. The one way every command loads a generator."""
    from gath.checkpoint import load_model
    from gath.inference import FaceAnimator
    from gath.models import Generator

    try:
        dev = resolve_device(device)
        path = gath_file(checkpoint, dev.type == "cpu" if lite is None else lite)
        generator, meta = load_model(path, "generator", Generator)
        animator = FaceAnimator(generator, meta, device)
    except (CheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    words = "GATH lite generator" if path.name == LITE_GENERATOR_FILE else "GATH generator"
    return animator, words + (", PLACEHOLDER weights" if meta.get("placeholder") else ""), meta | {"path": str(path)}


def enhance_option() -> Any:
    """The `--enhance` option of the commands that can render with GATH (render, edit)."""
    return option(
        None,
        "gath: post-process syntheses as in the paper: clahe,denoise,sharpen (any subset; alone: all)",
        metavar="STEPS",
        const="all",
        parse=Enhance.parse,
    )


class GathAnimator(FullFrames):
    """A GATH generator on the aligned crop, pasted back (or the bare crop, scaled to
    `crop_height`), with the optional classical enhancement of the crop."""

    def __init__(self, animator, portrait: Portrait, enhance=None, crop_height: int | None = None) -> None:
        from talkinghead.face.align import Paster

        self.animator, self.portrait = animator, portrait
        self.au_names = animator.au_names
        self.enhance = enhance if enhance is not None and enhance.any else None
        self.crop_height = crop_height
        aligned = portrait.aligned(animator.crop_size)
        self.paster = Paster(aligned) if crop_height is None else None
        animator.set_source(aligned.crop)

    def plan(self, aus: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """The generator redraws the aligned face crop, pasted back where the photo's face
        is: it keeps the photo's pose (`pose` is not used)."""
        return self.animator.render(aus)

    def draw(self, crops: np.ndarray) -> np.ndarray:
        if self.enhance is not None:
            crops = self.enhance(crops)
        if self.crop_height is not None:
            h = self.crop_height
            return np.stack([cv2.resize(c, (h, h), interpolation=cv2.INTER_CUBIC) for c in crops])
        photo = self.portrait.image
        out = np.empty((len(crops), *photo.shape), np.uint8)
        for frame, crop in zip(out, crops):
            frame[:] = photo
            self.paster.paste(frame, crop, inplace=True)
        return out


class GathRenderer(Renderer):
    """A GATH generator on its device (gath.inference.FaceAnimator), which is also its
    crop-level form."""

    def __init__(self, animator, words: str, meta: dict, enhance=None, crop_height: int | None = None) -> None:  # noqa: ANN001
        self.animator, self.words, self.meta = animator, words, meta
        self.enhance, self.crop_height = enhance, crop_height
        self.au_names = animator.au_names
        self.device = animator.device

    def build(self, portrait: Portrait) -> GathAnimator:
        return GathAnimator(self.animator, portrait, self.enhance, self.crop_height)

    def crops(self, crop_size: int):  # noqa: ANN201 - a FaceAnimator at its own crop size
        return self.animator


def _load(model: ModelOptions, enhance=None, crop_height: int | None = None) -> GathRenderer:  # noqa: ANN001
    animator, words, meta = load_gath(model.checkpoint, model.device, model.lite)
    return GathRenderer(animator, words, meta, enhance, crop_height)


register(
    RendererSpec(
        "gath",
        "the GATH generator redraws the face crop, but its shipped weights are a placeholder (blurry, with a dot grid)",
        (GENERATOR_FILE, LITE_GENERATOR_FILE),
        _load,
        enhances=True,
        rank=2,
    )
)
