"""The warp renderer (`--generator warp`, the default): the photo's own pixels moved by
AU-driven landmark motion, plus a drawn mouth interior; AU_target = AU_photo gives the
photo back exactly. Its weights: motion.pt (AU -> landmark motion). It also runs on
aligned crops (`CropWarp`, for eval).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from actionunits import AU_NAMES
from actionunits.checkpoint import CheckpointError
from talkinghead.errors import UserError
from talkinghead.face.motion import MOTION_FILE
from talkinghead.model_files import weights_file
from talkinghead.portrait import Portrait
from talkinghead.renderers.animator import FullFrames, Renderer
from talkinghead.renderers.registry import ModelOptions, RendererSpec, register

CROP_UPSCALE = 3  # CropWarp animates a crop at this multiple of its size, then scales it back down
# Parted lips at rest: closed, a little past touching (a pixel at most), so that the small
# lip AUs audio2au leaves in pauses (0.03 on average, docs/audio2au.md) keep them closed as
# they keep a closed photo's; by at most MAX_CLOSING_SCALE times the tracker's reading of
# the opening. A mouth open wider than WIDE_OPEN (eye distances) closes by at most its
# reading: squeezing it further pressed its teeth into a seam that the eye and the face mesh
# read as open (one clip's rendered lips r 0.39 -> 0.11, docs/results/2026-12-06-lips/).
CLOSED_LIP_GAP = -0.01
MAX_CLOSING_SCALE = 2.0
WIDE_OPEN = 0.15


def load_motion(checkpoint: str | Path | None = None):
    """The warp renderer's AU -> motion model from a weights folder (None: the shipped one)."""
    from talkinghead.face.motion import MotionModel

    path = weights_file(checkpoint, MOTION_FILE)
    try:
        return MotionModel.load(path)
    except CheckpointError as e:
        raise UserError(str(e).splitlines()[0]) from None


@dataclass
class WarpPlan:
    """A batch halfway (`WarpAnimator.plan`): the photo's pixels moved, the mouth interior
    not drawn yet."""

    frames: np.ndarray  # (B, H, W, 3) uint8, the warped photo
    points: np.ndarray  # (B, 478, 2) moved landmarks, photo pixels
    moved: np.ndarray  # (B,) bool; False: the frame is the photo itself
    aus: np.ndarray  # (B, K) targets (the refiner's input)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, s: slice) -> WarpPlan:
        return WarpPlan(self.frames[s], self.points[s], self.moved[s], self.aus[s])


class WarpAnimator(FullFrames):
    """The photo's pixels moved by AU-driven landmark motion, plus a drawn mouth interior.

    Per frame: target landmarks = photo landmarks + motion(AU_target - AU_photo) in the
    photo's head pose; `plan` finds the backward warp map of the face region and samples
    the full-resolution photo with it, `draw` fills the parted lips (then lets the GATH-W
    `refiner` repaint them, when given)."""

    def __init__(self, portrait: Portrait, motion, crop_height: int | None = None, refiner=None) -> None:
        from talkinghead.face.align import DEFAULT_CROP_SIZE, warp_region
        from talkinghead.face.au_tracker import Calibration, head_pose
        from talkinghead.face.mouth import MouthFill
        from talkinghead.face.warp import DenseWarp, WarpMesh

        self.portrait, self.motion, self.crop_height, self.refiner = portrait, motion, crop_height, refiner
        self.au_names = portrait.names
        if refiner is not None and tuple(refiner.au_names) != tuple(self.au_names):
            raise UserError("the GATH-W refiner was trained on another AU vector than the portrait's")
        missing = [n for n in self.au_names if n not in self.motion.au_names]
        if missing:
            raise UserError(f"the motion model has no AUs {missing}")
        self._columns = [self.motion.au_names.index(n) for n in self.au_names]
        scale, rot = head_pose(portrait.landmarks, Calibration.load().reference)
        self._to_photo = (rot / scale).astype(np.float32)  # pose-free offset rows @ this -> photo offsets
        self.portrait = portrait = replace(portrait, aus=self._closing_at_rest())
        self.mesh = WarpMesh.from_landmarks(portrait.landmarks)
        self.warp = DenseWarp(self.mesh, portrait.image.shape)
        self.mouth = MouthFill(portrait.image, portrait.landmarks)
        self._turn = None
        if crop_height is not None:  # the aligned face crop of each frame, scaled to crop_height
            m = portrait.aligned(DEFAULT_CROP_SIZE).matrix
            matrix = np.diag([crop_height / DEFAULT_CROP_SIZE] * 2) @ m
            self._crop = lambda frame: warp_region(frame, matrix, crop_height)

    def offsets(self, aus: np.ndarray, depth: bool = False) -> np.ndarray:
        """(B, n_aus) targets -> (B, 478, 2) landmark offsets in photo pixels ((B, 478, 3)
        with `depth`: z on the scale of x)."""
        delta = np.zeros((len(aus), len(self.motion.au_names)), np.float32)
        delta[:, self._columns] = np.clip(aus, 0, 1) - self.portrait.aus
        return (self.motion.offsets(delta) @ self._to_photo)[..., : 3 if depth else 2]

    def _closing_at_rest(self) -> np.ndarray:
        """The portrait's AUs with the opening of parted lips (its CLOSING_AUS, rest_face)
        scaled so that the rest closes the lips in this motion model and no further: the
        tracker's reading of a still is not what closes it (a jaw read as 0.7 on lips 0.07
        apart pressed them through each other at rest, and speech had to undo that first;
        others stayed apart)."""
        from talkinghead.rest_face import CLOSING_AUS

        aus = self.portrait.aus.copy()
        closing = [i for i, n in enumerate(self.au_names) if n in CLOSING_AUS and aus[i] > 0]
        if not closing:
            return aus
        points = self.portrait.landmarks[:, :2]
        g0 = signed_lip_gap(points)
        g1 = signed_lip_gap(points + self.offsets(self.portrait.rest[None])[0])  # the rest as read
        if g1 >= g0:
            return aus
        limit = min(1.0 if self.portrait.lip_gap > WIDE_OPEN else MAX_CLOSING_SCALE, 1.0 / float(aus[closing].max()))
        aus[closing] *= float(np.clip((CLOSED_LIP_GAP - g0) / (g1 - g0), 0.0, limit))  # the gap is linear in it
        return aus

    def offsets_to(self, landmarks: np.ndarray) -> np.ndarray:
        """(B, 478, 3) landmarks of this face in other frames (other head poses) -> (B, 478, 2)
        photo offsets that give their expression in this photo's pose: the real motion that
        `offsets` predicts from AUs (GATH-W's training pairs use it)."""
        from talkinghead.face.au_tracker import Calibration, remove_pose

        reference = Calibration.load().reference
        own, _ = remove_pose(self.portrait.landmarks[None], reference)
        other, _ = remove_pose(np.asarray(landmarks), reference)
        return ((other - own).astype(np.float32) @ self._to_photo)[..., :2]

    def plan(self, aus: np.ndarray, pose: np.ndarray | None = None, offsets: np.ndarray | None = None) -> WarpPlan:
        """The photo warped to each frame's landmarks, the head turned to `pose` (B, 3)
        degrees where given and not zero. `offsets` (B, 478, 2) replace the motion model's."""
        aus = np.asarray(aus, np.float32)
        photo = self.portrait.image
        offsets = self.offsets(aus, depth=pose is not None) if offsets is None else offsets
        points = self.portrait.landmarks[:, :2] + offsets[..., :2]
        frames = np.empty((len(offsets), *photo.shape), np.uint8)
        moved = np.zeros(len(offsets), bool)
        for i, off in enumerate(offsets):
            frames[i] = photo
            warp, order = self.warp, None
            if pose is not None and np.any(pose[i]):
                warp, turn = self._head()
                vertex, off, order = turn.offsets(pose[i], warp.mesh.vertex_offsets(off), off)
                points[i] = self.portrait.landmarks[:, :2] + off
            else:
                vertex = warp.mesh.vertex_offsets(off[:, :2])
            if np.abs(vertex).max() > 1e-3:
                map_x, map_y = warp.backward_map(vertex, order)
                if warp is self.warp:
                    remap(photo, map_x, map_y, frames[i][warp.roi])
                else:
                    if turn.gaze_at_camera:
                        turn.keep_gaze(map_x, map_y, (warp.x0, warp.y0), points[i], pose[i])
                    self._remap_turned(photo, map_x, map_y, frames[i][warp.roi])
                moved[i] = True
        return WarpPlan(frames, points, moved, aus)

    def _remap_turned(self, photo: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, out: np.ndarray) -> None:
        """A turned head's region: bicubic (film grain and skin texture kept) where the
        still head's warp reaches, bilinear in the band of stretched background around it,
        which costs a quarter as much per pixel (the band nearly doubles the region)."""
        head, inner = self._turn[0], self.warp
        rows = slice(inner.y0 - head.y0, inner.y1 - head.y0)
        cols = slice(inner.x0 - head.x0, inner.x1 - head.x0)
        for box in (
            (slice(0, rows.start), slice(None)),
            (slice(rows.stop, None), slice(None)),
            (rows, slice(0, cols.start)),
            (rows, slice(cols.stop, None)),
        ):
            if out[box].size:
                remap(photo, map_x[box], map_y[box], out[box], cv2.INTER_LINEAR)
        remap(photo, map_x[rows, cols], map_y[rows, cols], out[rows, cols])

    def _head(self):
        """The mesh with its head ring, its dense warp and the head's rigid turn, made on the
        first frame that turns the head (a still head never pays for them)."""
        if self._turn is None:
            from talkinghead.face.head_turn import HeadTurn
            from talkinghead.face.warp import DenseWarp, WarpMesh

            mesh = WarpMesh.from_landmarks(self.portrait.landmarks, head=True)
            self._turn = DenseWarp(mesh, self.portrait.image.shape), HeadTurn(mesh, self.portrait.landmarks)
        return self._turn

    def draw(self, plan: WarpPlan) -> np.ndarray:
        """The plan's frames (in place) with their mouth interiors."""
        frames = plan.frames
        for frame, points, moved in zip(frames, plan.points, plan.moved):
            if moved:
                self.mouth.draw(frame, points)
        if self.refiner is not None:
            self.refiner(frames, [p if m else None for p, m in zip(plan.points, plan.moved)], plan.aus)
        if self.crop_height is not None:
            return np.stack([self._crop(f) for f in frames])
        return frames


def remap(photo: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, out: np.ndarray, how: int = cv2.INTER_CUBIC) -> None:
    """`out` (a view into a frame) = the photo sampled at the backward map."""
    cv2.remap(photo, map_x, map_y, how, dst=out, borderMode=cv2.BORDER_REPLICATE)


class CropWarp:
    """The warp renderer on aligned crops (eval's crop-level protocol), animated the way
    `render` animates a photo (landmarks and the photo's own AUs read from the source crop,
    targets driven by difference), at CROP_UPSCALE times the crop size, then scaled back
    down with area averaging. A source the face mesh cannot find a face in is returned
    unchanged for every AU vector (counted in `failed_sources`)."""

    def __init__(self, motion, crop_size: int, refiner=None) -> None:
        self.motion, self.crop_size, self.refiner = motion, crop_size, refiner
        self.au_names = tuple(motion.au_names)
        self.device = torch.device("cpu")
        self.failed_sources = 0
        self._animator = None
        self._crop: np.ndarray | None = None

    def set_source(self, crop: np.ndarray) -> None:
        self._crop = crop
        size = self.crop_size * CROP_UPSCALE
        big = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
        try:
            self._animator = WarpAnimator(
                Portrait.from_image(big, names=self.au_names), self.motion, refiner=self.refiner
            )
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


def signed_lip_gap(points: np.ndarray) -> float:
    """Inner-lip gap (audio2au.frame_measures' points) along the face's downward axis
    (forehead 10 -> chin 152) over the eye distance: negative when the lips are pushed
    through each other."""
    from audio2au.frame_measures import INNER_LIP_BOTTOM, INNER_LIP_TOP
    from talkinghead.face.align import anchor_points

    down = points[152] - points[10]
    eyes = anchor_points(points)
    lips = points[INNER_LIP_BOTTOM] - points[INNER_LIP_TOP]
    gap = float(np.dot(lips, down / max(float(np.linalg.norm(down)), 1e-6)))
    return gap / max(float(np.linalg.norm(eyes[1] - eyes[0])), 1e-6)


class WarpRenderer(Renderer):
    """The motion model (and, for gath_w, the GATH-W mouth refiner) loaded once."""

    def __init__(self, motion, refiner=None, crop_height: int | None = None, words: str = "warp renderer") -> None:
        self.motion, self.refiner, self.crop_height, self.words = motion, refiner, crop_height, words
        self.au_names = tuple(n for n in AU_NAMES if n in motion.au_names)
        self.device = torch.device("cpu")
        self.meta = (
            {}
            if refiner is None
            else {
                "steps": refiner.steps,  # eval flags held-out speakers it saw
                "classes": [f"target:{s}" for s in refiner.speakers],
            }
        )

    def build(self, portrait: Portrait) -> WarpAnimator:
        return WarpAnimator(portrait, self.motion, self.crop_height, self.refiner)

    def crops(self, crop_size: int) -> CropWarp:
        return CropWarp(self.motion, crop_size, self.refiner)


def _load(model: ModelOptions, enhance=None, crop_height: int | None = None) -> WarpRenderer:  # noqa: ANN001
    return WarpRenderer(load_motion(model.checkpoint), crop_height=crop_height)


register(RendererSpec("warp", "moves the photo's own pixels (sharp, the default)", (MOTION_FILE,), _load, rank=0))
