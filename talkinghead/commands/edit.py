"""Expression editing of a still (paper section 5.4): set some AUs of a portrait, keep the
rest as the photo shows them, no template or target face needed.

The photo's own AUs come from the tracker on its landmarks, so `--au jawOpen=0.6` opens the
mouth and leaves a smile where there was one; `--neutral` starts from all zeros instead
(expression suppression). `--yaw`, `--pitch` and `--roll` turn the head (within
`POSE_LIMITS`, what a 2D warp can show). With the warp renderer, AUs left as the photo
shows them and no head turn give the photo back unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from actionunits import AUSeries
from actionunits.series import POSE_LIMITS
from gath.postprocess import Enhance
from talkinghead.aupost import PostOptions, postprocess
from talkinghead.errors import UserError
from talkinghead.io.image import IMAGE_SUFFIXES, write_image
from talkinghead.io.video import check_output_path
from talkinghead.options import option
from talkinghead.portrait import Portrait, face_index_option
from talkinghead.renderers import ModelOptions, load
from talkinghead.renderers.gath import enhance_option

CROP_ONLY_HEIGHT = 100


@dataclass
class EditOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    size: int | None = option(
        None, f"output height in pixels (default: the photo's; {CROP_ONLY_HEIGHT} with --crop-only)"
    )
    crop_only: bool = option(False, "output the aligned face crop, not the whole photo")
    enhance: Enhance | None = enhance_option()
    face_index: int | None = face_index_option()
    quiet: bool = option(False, "print nothing but errors")
    yaw: float = option(
        0.0, f"turn the head, + towards the image's left; at most {POSE_LIMITS[0]:g} either way", metavar="DEG"
    )
    pitch: float = option(0.0, f"nod the head, + down; at most {POSE_LIMITS[1]:g} either way", metavar="DEG")
    roll: float = option(
        0.0, f"tilt the head, + clockwise in the image; at most {POSE_LIMITS[2]:g} either way", metavar="DEG"
    )

    def check(self) -> None:
        self.model.check()
        if self.size is not None and self.size < 16:
            raise UserError(f"--size must be at least 16 pixels, got {self.size}")
        for name, value, limit in zip(("yaw", "pitch", "roll"), (self.yaw, self.pitch, self.roll), POSE_LIMITS):
            if not abs(value) <= limit:  # NaN fails too
                raise UserError(f"--{name} must be in [-{limit:g}, {limit:g}] degrees, got {value:g}")

    def pose(self) -> np.ndarray | None:
        """The (1, 3) head pose to render in degrees, None for the photo's own (bit-exact)."""
        if self.yaw == self.pitch == self.roll == 0:
            return None
        return np.array([[self.yaw, self.pitch, self.roll]], np.float32)


def edited_aus(portrait: Portrait, post: PostOptions) -> np.ndarray:
    """The photo's own AUs (or zeros with `post.neutral`) with the user's emotion and overrides."""
    base = post.base(portrait.aus)
    post = PostOptions(
        expressiveness=post.expressiveness,
        emotion=post.emotion,
        overrides=post.overrides,
        smooth_s=0.0,
        blinks=False,
        idle=False,
    )
    return postprocess(AUSeries(base[None], 1.0, portrait.names), post).values[0]


def edit(photo: str | os.PathLike, output: str | os.PathLike, post: PostOptions, options: EditOptions) -> np.ndarray:
    """Write the edited photo to `output` and return the AU vector it was rendered with."""
    output = check_output_path(output, IMAGE_SUFFIXES)
    options.check()
    post.check()
    crop_height = (options.size or CROP_ONLY_HEIGHT) if options.crop_only else None
    renderer = load(options.model, options.enhance, crop_height)
    portrait, animator = renderer.open(
        photo, None if options.crop_only else options.size, face_index=options.face_index, even_size=False
    )
    aus = edited_aus(portrait, post)
    write_image(output, animator.frames(aus[None], options.pose())[0])
    return aus
