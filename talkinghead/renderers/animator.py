"""What every renderer offers its callers, at two levels:

- `Animator`: one photo's frames (render, reenact, edit, live, the app): `plan` and `draw`
  halves (the render pipeline times them apart, GATH-W's training pairs stop between)
  and `frames` = both.
- `CropAnimator`: the aligned face crop in and out (eval's protocol, the GATH paper's):
  `set_source(crop)` once, `render(aus) -> crops` per batch.

A loaded `Renderer` holds the weights and makes either one.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np
import torch

from talkinghead.portrait import Portrait


class Animator(Protocol):
    """AU vectors (B, len(au_names)) in [0, 1], and optionally head poses (B, 3) in degrees
    (`actionunits.series.POSE_NAMES`), -> frames (B, H, W, 3) uint8 RGB of `portrait`.
    A renderer that cannot turn the head keeps the photo's pose."""

    au_names: tuple[str, ...]
    portrait: Portrait

    @property
    def size(self) -> tuple[int, int]: ...

    def plan(self, aus: np.ndarray, pose: np.ndarray | None = None) -> object: ...

    def draw(self, plan: object) -> np.ndarray: ...

    def frames(self, aus: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray: ...


class CropAnimator(Protocol):
    """Aligned face crops (S, S, 3) uint8 in, AU-driven crops (B, S, S, 3) out."""

    au_names: tuple[str, ...]
    crop_size: int
    device: torch.device

    def set_source(self, crop: np.ndarray) -> None: ...

    def render(self, aus: np.ndarray) -> np.ndarray: ...


class FullFrames:
    """What the frame-level animators share: frames of the photo's size or of the aligned
    crop (`crop_height`), and `frames` = `draw(plan(aus))`."""

    portrait: Portrait
    crop_height: int | None

    @property
    def size(self) -> tuple[int, int]:
        if self.crop_height is not None:
            return self.crop_height, self.crop_height
        return self.portrait.size

    def frames(self, aus: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        return self.draw(self.plan(aus, pose))


class Renderer:
    """A renderer's weights, loaded before any photo (so a bad checkpoint fails first).
    Subclasses set `au_names`, `device`, `words` (what the start-up and summary lines
    call it) and `meta` (what eval's report says of the weights), and make animators."""

    au_names: tuple[str, ...]
    device: torch.device
    words: str
    meta: dict

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def build(self, portrait: Portrait) -> Animator:
        raise NotImplementedError

    def crops(self, crop_size: int) -> CropAnimator:
        raise NotImplementedError

    def open(self, photo: str | os.PathLike, *sizing: Any, **named: Any) -> tuple[Portrait, Animator]:
        """Read and set up a photo for this renderer, once; `sizing` and `named` are
        `Portrait.open`'s (height, max_height, face_index, even_size)."""
        animator = self.build(Portrait.open(photo, *sizing, names=self.au_names, **named))
        return animator.portrait, animator  # the renderer may have set the portrait's rest up
