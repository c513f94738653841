"""The renderers `eval` compares, behind the crop-level interface its protocol uses
(`set_source(crop)`, `render(aus) -> crops`, `au_names`, `crop_size`, `device`): GATH
generators as they are, and the warp renderer applied to the aligned crop, with or without
the GATH-W mouth refiner.

The warp variant animates the crop the way `render` animates a photo (landmarks and the
photo's own AUs read from the source crop, targets driven by difference), at 3x the crop
size, then scaled back down with area averaging.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from talkinghead.checkpoints import MOTION_FILE, REFINER_FILE, load_motion, load_refiner
from talkinghead.errors import UserError

WARP = "warp"  # --variant NAME=warp: the shipped motion model
GATH_W = "gath_w"  # --variant NAME=gath_w: the shipped motion model and GATH-W refiner
WARP_UPSCALE = 3


class CropWarp:
    """The warp renderer on aligned crops. A source the face mesh cannot find a face in is
    returned unchanged for every AU vector (counted in `failed_sources`)."""

    def __init__(self, motion, crop_size: int, refiner=None) -> None:
        self.motion, self.crop_size, self.refiner = motion, crop_size, refiner
        self.au_names = tuple(motion.au_names)
        self.device = torch.device("cpu")
        self.failed_sources = 0
        self._animator = None
        self._crop: np.ndarray | None = None

    def set_source(self, crop: np.ndarray) -> None:
        from talkinghead.portrait import Portrait, WarpAnimator

        self._crop = crop
        size = self.crop_size * WARP_UPSCALE
        big = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
        try:
            self._animator = WarpAnimator(Portrait.from_image(big, names=self.au_names), self.motion,
                                          refiner=self.refiner)
        except (UserError, ValueError):
            self._animator = None
            self.failed_sources += 1

    def render(self, aus: np.ndarray) -> np.ndarray:
        if self._crop is None:
            raise RuntimeError("call set_source() before render()")
        if self._animator is None:
            return np.repeat(self._crop[None], len(aus), axis=0)
        s = self.crop_size
        return np.stack([cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA) for f in self._animator.frames(aus)])


def load_variant(path: Path | str | None, device: str, crop_size: int):
    """`warp` (or a motion.pt) -> CropWarp; `gath_w` (or a refiner.pt, with the motion.pt
    beside it or the shipped one) -> CropWarp with the GATH-W refiner; a generator file or
    weights folder (the full generator.pt preferred: evaluate the full model) or None (the
    shipped weights) -> the GATH generator. Returns (animator, meta)."""
    from talkinghead.checkpoints import load_gath

    if str(path) == WARP:
        return CropWarp(load_motion(None), crop_size), {"path": WARP, "variant": "warp"}
    if str(path) == GATH_W:
        refiner = load_refiner(None)
        return CropWarp(load_motion(None), crop_size, refiner), _refiner_meta(GATH_W, refiner)
    path = None if path is None else Path(path)
    if path is not None and path.name == MOTION_FILE:
        return CropWarp(load_motion(path.parent), crop_size), {"path": str(path), "variant": "warp"}
    if path is not None and path.name == REFINER_FILE:
        if not path.is_file():
            raise UserError(f"refiner checkpoint not found: {path}")
        motion = load_motion(path.parent if (path.parent / MOTION_FILE).is_file() else None)
        refiner = load_refiner(path.parent)
        return CropWarp(motion, crop_size, refiner), _refiner_meta(str(path), refiner)
    if path is not None and not path.exists():
        raise UserError(f"generator checkpoint not found: {path}")
    animator, _, meta = load_gath(path, device, prefer_lite=False)
    return animator, meta


def _refiner_meta(path: str, refiner) -> dict:
    """The report's view of a GATH-W variant: its training speakers as `target:` classes, so
    `eval` flags held-out speakers it saw."""
    return {"path": path, "variant": "gath_w", "steps": refiner.steps,
            "classes": [f"target:{s}" for s in refiner.speakers]}
