"""Expression editing of a still (paper section 5.4): set some AUs of a portrait, keep the
rest as the photo shows them, no template or target face needed.

The photo's own AUs come from the tracker on the landmarks found while aligning, so
`--au jawOpen=0.6` opens the mouth and leaves a smile where there was one; `--neutral`
starts from all zeros instead (expression suppression).
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
from talkinghead.checkpoints import load_animator
from talkinghead.errors import UserError
from talkinghead.io.video import check_output_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class EditOptions:
    neutral: bool = False
    size: int | None = None  # output height; None keeps the photo's
    device: str = "auto"
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


def photo_aus(aligned, names: tuple[str, ...]) -> np.ndarray:
    """The AU vector the photo shows (zeros where the tracker cannot tell)."""
    from talkinghead.face.au_tracker import AUTracker

    values, valid = AUTracker(names=names).from_landmarks(aligned.landmarks[None])
    return values[0] if valid[0] else np.zeros(len(names), np.float32)


def edit(photo: str | os.PathLike, output: str | os.PathLike, post: PostOptions, options: EditOptions) -> np.ndarray:
    """Write the edited photo to `output` and return the AU vector it was rendered with."""
    from talkinghead.face.align import Paster
    from talkinghead.render import prepare_photo

    output = check_output_path(output, IMAGE_SUFFIXES)
    if options.size is not None and options.size < 16:
        raise UserError(f"--size must be at least 16 pixels, got {options.size}")
    animator, _ = load_animator(options.checkpoint, options.device)
    height = None if options.crop_only else options.size
    img, aligned = prepare_photo(photo, animator.crop_size, height, face_index=options.face_index, even_size=False)
    base = np.zeros(len(animator.au_names), np.float32) if options.neutral else photo_aus(aligned, animator.au_names)
    post = PostOptions(expressiveness=post.expressiveness, emotion=post.emotion, overrides=post.overrides,
                       smooth_s=0.0, blinks=False, idle=False)
    aus = postprocess(AUSeries(base[None], 1.0, animator.au_names), post).values
    animator.set_source(aligned.crop)
    crop = animator.render(aus)[0]
    if options.enhance is not None and options.enhance.any:
        crop = options.enhance(crop)
    if options.crop_only:
        h = options.size or crop.shape[0]
        out = cv2.resize(crop, (h, h), interpolation=cv2.INTER_CUBIC) if h != crop.shape[0] else crop
    else:
        out = Paster(aligned).paste(img, crop)
    write_image(output, out)
    return aus[0]
