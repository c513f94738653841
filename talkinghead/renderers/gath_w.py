"""GATH-W, the warp renderer with a learned mouth interior (`--generator gath_w`): the
refiner (gath.models.WarpRefiner, weights refiner.pt) on the mouth crop of each warped
frame whose lips are parted, composited back into the full-resolution frame through its
attention mask. Only the pixels it paints change (1 - A, faded to 0 at the crop's border),
so the rest of the frame keeps the photo's own pixels and sharpness; frames with closed
lips cost nothing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from actionunits.checkpoint import CheckpointError, resolve_device
from gath.inference import for_inference
from talkinghead.errors import UserError
from talkinghead.face.mouth import is_grey, mouth_crop
from talkinghead.model_files import weights_file
from talkinghead.renderers.registry import ModelOptions, RendererSpec, register
from talkinghead.renderers.warp import WarpRenderer, load_motion

REFINER_FILE = "refiner.pt"
# Crops whose parted-lip area is below this share of the crop are left alone (closed lips).
MIN_OPENING = 0.002
BORDER_FADE = 4  # px of the crop over which the painted weight fades out at its edge


class MouthRefiner:
    """Refines the mouths of warped frames in place."""

    def __init__(self, model: torch.nn.Module, meta: dict, device: torch.device | str = "cpu") -> None:
        self.adds_change = model.detail_sigma > 0  # paints colour and shading only: add its change to the frame
        self.model = for_inference(model, device)
        self.device = torch.device(device)
        self.size = int(meta["crop_size"])
        self.au_names = tuple(meta["au_names"])
        self.steps = int(meta.get("steps", 0))
        self.speakers = list(meta.get("speakers", []))  # whose pairs it trained on
        ramp = np.minimum(np.arange(self.size) + 0.5, self.size - 0.5 - np.arange(self.size)) / BORDER_FADE
        edge = np.clip(ramp, 0, 1).astype(np.float32)
        self._window = np.minimum(edge[:, None], edge[None, :])

    @torch.no_grad()
    def run(self, crops: np.ndarray, openings: np.ndarray, aus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, S, S, 3) uint8 crops, (B, S, S) openings, (B, K) AUs -> colour (B, S, S, 3) in
        [0, 255] and painted weight 1 - A (B, S, S)."""
        cl = torch.channels_last
        x = (torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1).contiguous(
            memory_format=cl
        )
        o = torch.from_numpy(openings).to(self.device)[:, None].contiguous(memory_format=cl)
        _, colour, attention = self.model(x, o, torch.from_numpy(np.asarray(aus, np.float32)).to(self.device))
        colour = ((colour.clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1).cpu().numpy()
        return colour, (1 - attention[:, 0]).cpu().numpy()

    def __call__(self, frames: np.ndarray, points: list[np.ndarray], aus: np.ndarray) -> None:
        """Refine frames (B, H, W, 3) in place; points[i]: frame i's moved landmarks (pixels)
        or None where nothing moved; aus (B, K) in this refiner's AU order."""
        todo = []
        for i, p in enumerate(points):
            if p is None:
                continue
            m, crop, opening = mouth_crop(frames[i], p, self.size)
            if opening.mean() >= MIN_OPENING:
                todo.append((i, m, crop, opening))
        if not todo:
            return
        colour, painted = self.run(
            np.stack([t[2] for t in todo]), np.stack([t[3] for t in todo]), aus[[t[0] for t in todo]]
        )
        for (i, m, crop, _), c, w in zip(todo, colour, painted):
            if is_grey(crop):  # a black-and-white photo gets a grey mouth, not the video's colours
                c = np.repeat(c.mean(-1, keepdims=True), 3, -1)
            if self.adds_change:  # keeps the frame's own brightness detail at full resolution
                paste(frames[i], m, c - crop, w * self._window, add=True)
            else:
                paste(frames[i], m, c, w * self._window)


def paste(frame: np.ndarray, matrix: np.ndarray, colour: np.ndarray, weight: np.ndarray, add: bool = False) -> None:
    """Blend a crop's colour into `frame` (in place) with per-pixel weight, through the
    inverse of the crop's matrix, touching only the crop's bounding box; with `add`,
    `colour` is a change added with that weight (a refiner that paints only colour and
    shading: its brightness change is smooth, so upsampling it loses nothing and the frame
    keeps its own detail at full resolution)."""
    size = colour.shape[0]
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    h, w = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    to_box = inv.copy()
    to_box[:, 2] -= (x0, y0)
    box = (x1 - x0, y1 - y0)
    c = cv2.warpAffine(colour.astype(np.float32), to_box, box, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(weight.astype(np.float32), to_box, box, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[
        ..., None
    ]
    region = frame[y0:y1, x0:x1]
    mixed = region + c * a if add else region * (1 - a) + c * a
    region[:] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def read_refiner(path: str | Path, device: str | torch.device = "cpu") -> MouthRefiner:
    """A refiner file (ValueError or CheckpointError when it does not fit this renderer)."""
    from gath.checkpoint import load_model
    from gath.models import WarpRefiner
    from talkinghead.face.au_tracker import tracker_version

    model, meta = load_model(path, "gath_w", WarpRefiner)
    if meta.get("tracker", tracker_version()) != tracker_version():
        raise ValueError(
            f"GATH-W refiner {path} was trained for another AU tracker version ({meta['tracker']}, now "
            f"{tracker_version()}); retrain it with `talkinghead train gath_w`"
        )
    return MouthRefiner(model, meta, device)


def load_refiner(checkpoint: str | Path | None, device: str = "auto") -> MouthRefiner:
    """The refiner of a weights folder (None: the shipped one), or a one-line UserError."""
    path = weights_file(checkpoint, REFINER_FILE)
    try:
        return read_refiner(path, resolve_device(device))
    except (CheckpointError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None


def _load(model: ModelOptions, enhance=None, crop_height: int | None = None) -> WarpRenderer:  # noqa: ANN001
    motion = load_motion(model.checkpoint)
    refiner = load_refiner(model.checkpoint, model.device)
    return WarpRenderer(motion, refiner, crop_height, f"warp renderer + GATH-W mouth ({refiner.steps} steps)")


register(RendererSpec("gath_w", "the warp with GATH-W's learned mouth interior", (REFINER_FILE,), _load, rank=1))
