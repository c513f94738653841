"""Expression editing of a still (paper section 5.4): set some AUs of a portrait, keep the
rest as the photo shows them, no template or target face needed.

The photo's own AUs come from the tracker on its landmarks, so `--au jawOpen=0.6` opens the
mouth and leaves a smile where there was one; `--neutral` starts from all zeros instead
(expression suppression). With the warp renderer, AUs left as the photo shows them give
the photo back unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from gath.postprocess import Enhance
from talkinghead.aupost import PostOptions, postprocess
from talkinghead.checkpoints import AnimatorFactory
from talkinghead.errors import UserError
from talkinghead.io.video import check_output_path
from talkinghead.portrait import Portrait

CROP_ONLY_HEIGHT = 100

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class EditOptions:
    neutral: bool = False
    size: int | None = None  # output height; None keeps the photo's
    device: str = "auto"
    generator: str = "warp"
    checkpoint: Path | None = None
    crop_only: bool = False
    enhance: Enhance | None = None
    face_index: int | None = None


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Encode by extension into a temp file beside `path`, then rename."""
    ok, data = cv2.imencode(path.suffix.lower(), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError(f"cannot encode an image as {path.suffix}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())


def edited_aus(portrait: Portrait, post: PostOptions, neutral: bool) -> np.ndarray:
    """The photo's own AUs (or zeros with `neutral`) with the user's emotion and overrides."""
    base = np.zeros(len(portrait.names), np.float32) if neutral else portrait.aus
    post = PostOptions(expressiveness=post.expressiveness, emotion=post.emotion, overrides=post.overrides, smooth_s=0.0,
                       blinks=False, idle=False)
    return postprocess(AUSeries(base[None], 1.0, portrait.names), post).values[0]


def edit(photo: str | os.PathLike, output: str | os.PathLike, post: PostOptions, options: EditOptions) -> np.ndarray:
    """Write the edited photo to `output` and return the AU vector it was rendered with."""
    output = check_output_path(output, IMAGE_SUFFIXES)
    if options.size is not None and options.size < 16:
        raise UserError(f"--size must be at least 16 pixels, got {options.size}")
    crop_height = (options.size or CROP_ONLY_HEIGHT) if options.crop_only else None
    factory = AnimatorFactory(options.generator, options.checkpoint, options.device, enhance=options.enhance,
                              crop_height=crop_height)
    portrait = Portrait.open(photo, None if options.crop_only else options.size, face_index=options.face_index,
                             even_size=False, names=factory.au_names)
    aus = edited_aus(portrait, post, options.neutral)
    write_image(output, factory.build(portrait).frames(aus[None])[0])
    return aus
