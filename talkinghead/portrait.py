"""A portrait set up once for animation, and the animators that turn AU vectors into
frames of it.

    Portrait.open(photo)  -> read, scale, landmarks, the photo's own AUs   (once)
    WarpAnimator(portrait) -> motion model, warp mesh and maps, mouth colours (once)
    animator.frames(aus)   -> full-resolution frames                       (per batch)

`render`, `reenact`, `edit`, `live`, `demo` and `eval` all go through here, so they animate
a photo the same way. Every animator splits its per-batch work in two halves, `plan` and
`draw`, which the render pipeline times apart (and GATH-W's training pairs stop between):

- `WarpAnimator` (the default): the photo's own pixels moved by the AU -> motion model
  (`plan`), plus a drawn mouth interior, optionally refined by GATH-W
  (`talkinghead.refiner`) (`draw`); AU_target = AU_photo gives the photo back exactly.
- `GathAnimator`: the GATH generator redraws the aligned face crop, pasted back with a
  feathered edge (the paper's method; its weights are trained separately).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from actionunits import AU_NAMES
from talkinghead.errors import UserError

# A photo whose lips are apart by more than LIPS_APART (inner-lip gap / eye distance; closed
# mouths measure ~0.002, open ones 0.13-0.22) rests with CLOSING_AUS at 0: the jaw, the
# funnel and the lower lip's pull-down. Not the upper lip's raise: the motion model moves
# the whole upper lip with it, so undoing the raise the tracker reads in a smile that shows
# teeth thins that lip to a line (liveportrait_s1: dlib identity distance of the rest frame
# 0.46 against 0.04 without it, the lips as nearly closed; docs/results/2026-12-02-rest-lips/).
CLOSING_AUS = ("jawOpen", "mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight")
LIPS_APART = 0.04


def frame_workers() -> int:
    """Threads that make frames on CPU: one per core, up to 4 (beyond that the Python
    between OpenCV's and numpy's calls, which holds the GIL, stops them from scaling)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


@contextmanager
def frame_loop_threads(cuda: bool, workers: int = 1) -> Iterator[None]:
    """While `workers` threads make frames on CPU, torch gives each its share of the cores
    (with one worker on 2 cores, one thread: the other core runs the video writer and
    ffmpeg). Oversubscribed OpenMP threads spin-wait (on 2 busy cores one GATH decoder
    thread was 2x faster than two). The old setting is restored."""
    import torch

    old = torch.get_num_threads()
    if not cuda:
        cores = len(os.sched_getaffinity(0))
        torch.set_num_threads(max(1, cores - 1) if workers == 1 else max(1, cores // workers))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def even(n: int) -> int:
    return n + (n % 2)


@dataclass
class Portrait:
    """A photo (HxWx3 uint8 RGB, at output size), its face's 478 landmarks in its pixels
    and the AU vector it shows (the tracker's reading; zeros where it cannot tell)."""

    image: np.ndarray
    landmarks: np.ndarray
    aus: np.ndarray
    names: tuple[str, ...] = AU_NAMES

    @classmethod
    def from_image(cls, image: np.ndarray, face_index: int | None = None,
                   names: tuple[str, ...] = AU_NAMES) -> Portrait:
        from talkinghead.face.au_tracker import AUTracker
        from talkinghead.face.landmarks import LandmarkDetector

        with LandmarkDetector(video=False) as det:
            faces = det.detect(image)
        if not faces:
            raise UserError("no face found in the image (try a frontal, well-lit photo where the face is clearly visible)")
        index = 0 if face_index is None else face_index
        if not 0 <= index < len(faces):
            raise UserError(f"face index {index} requested but only {len(faces)} face(s) found "
                            f"(indices 0..{len(faces) - 1})")
        values, valid = AUTracker(names=names).from_landmarks(faces[index][None])
        aus = values[0] if valid[0] else np.zeros(len(names), np.float32)
        return cls(image, faces[index], aus, tuple(names))

    @classmethod
    def open(cls, path: str | os.PathLike, height: int | None = None, max_height: int | None = None,
             face_index: int | None = None, even_size: bool = True, names: tuple[str, ...] = AU_NAMES) -> Portrait:
        """Read the photo, scale it to `height` (or down to `max_height`; sizes made even for
        H.264 when `even_size`) and find its face. UserError when unreadable or faceless."""
        from talkinghead.io.image import read_image

        img = read_image(path)
        h, w = img.shape[:2]
        if height is None and max_height is not None and h > max_height:
            height = max_height
        if height is not None and height != h:
            new_w = max(2, round(w * height / h))
            new_w = even(new_w) if even_size else new_w
            img = cv2.resize(img, (new_w, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_CUBIC)
        elif even_size and (h % 2 or w % 2):
            img = np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2])
        return cls.from_image(img, face_index, names)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]

    @property
    def lip_gap(self) -> float:
        """Inner-lip gap in eye distances (0 for closed lips)."""
        from talkinghead.face.align import anchor_points
        from talkinghead.face.mouth import inner_lip_gap

        eyes = anchor_points(self.landmarks)
        return inner_lip_gap(self.landmarks) / max(float(np.linalg.norm(eyes[1] - eyes[0])), 1e-6)

    @property
    def rest_aus(self) -> np.ndarray:
        """The AU vector of this face at rest, which speech AUs are added to: the photo's
        own (the tracker reads a long chin or full lips of a closed mouth as some jawOpen or
        mouthClose, which must not be undone), except that parted lips rest closed (or
        nearly: the upper lip keeps its raise, see CLOSING_AUS)."""
        rest = self.aus.copy()
        if self.lip_gap > LIPS_APART:
            rest[[i for i, n in enumerate(self.names) if n in CLOSING_AUS]] = 0.0
        return rest

    def aligned(self, crop_size: int):
        """The face aligned to a generator's canonical crop (GATH)."""
        from talkinghead.face.align import align_face

        return align_face(self.image, self.landmarks, crop_size)


class Animator(Protocol):
    """AU vectors (B, len(au_names)) in [0, 1] -> frames (B, H, W, 3) uint8 RGB."""

    au_names: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]: ...

    def plan(self, aus: np.ndarray) -> object: ...

    def draw(self, plan: object) -> np.ndarray: ...


class _FullFrames:
    """What both animators share: frames of the photo's size or of the aligned crop, and
    `frames` = `draw(plan(aus))` for callers that want both halves at once (edit, live)."""

    portrait: Portrait
    crop_height: int | None

    @property
    def size(self) -> tuple[int, int]:
        if self.crop_height is not None:
            return self.crop_height, self.crop_height
        return self.portrait.size

    def frames(self, aus: np.ndarray) -> np.ndarray:
        return self.draw(self.plan(aus))


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


class WarpAnimator(_FullFrames):
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
        self.mesh = WarpMesh.from_landmarks(portrait.landmarks)
        self.warp = DenseWarp(self.mesh, portrait.image.shape)
        self.mouth = MouthFill(portrait.image, portrait.landmarks)
        if crop_height is not None:  # the aligned face crop of each frame, scaled to crop_height
            m = portrait.aligned(DEFAULT_CROP_SIZE).matrix
            matrix = np.diag([crop_height / DEFAULT_CROP_SIZE] * 2) @ m
            self._crop = lambda frame: warp_region(frame, matrix, crop_height)

    def offsets(self, aus: np.ndarray) -> np.ndarray:
        """(B, n_aus) targets -> (B, 478, 2) landmark offsets in photo pixels."""
        delta = np.zeros((len(aus), len(self.motion.au_names)), np.float32)
        delta[:, self._columns] = np.clip(aus, 0, 1) - self.portrait.aus
        return (self.motion.offsets(delta) @ self._to_photo)[..., :2]

    def offsets_to(self, landmarks: np.ndarray) -> np.ndarray:
        """(B, 478, 3) landmarks of this face in other frames (other head poses) -> (B, 478, 2)
        photo offsets that give their expression in this photo's pose: the real motion that
        `offsets` predicts from AUs (GATH-W's training pairs use it)."""
        from talkinghead.face.au_tracker import Calibration, remove_pose

        reference = Calibration.load().reference
        own, _ = remove_pose(self.portrait.landmarks[None], reference)
        other, _ = remove_pose(np.asarray(landmarks), reference)
        return ((other - own).astype(np.float32) @ self._to_photo)[..., :2]

    def plan(self, aus: np.ndarray, offsets: np.ndarray | None = None) -> WarpPlan:
        """The photo warped to each frame's landmarks. `offsets` (B, 478, 2) replace the
        motion model's."""
        aus = np.asarray(aus, np.float32)
        photo = self.portrait.image
        offsets = self.offsets(aus) if offsets is None else offsets
        frames = np.empty((len(offsets), *photo.shape), np.uint8)
        moved = np.zeros(len(offsets), bool)
        for i, off in enumerate(offsets):
            frames[i] = photo
            vertex = self.mesh.vertex_offsets(off)
            if np.abs(vertex).max() > 1e-3:
                map_x, map_y = self.warp.backward_map(vertex)
                cv2.remap(photo, map_x, map_y, cv2.INTER_CUBIC, dst=frames[i][self.warp.roi],
                          borderMode=cv2.BORDER_REPLICATE)
                moved[i] = True
        return WarpPlan(frames, self.portrait.landmarks[:, :2] + offsets, moved, aus)

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


class GathAnimator(_FullFrames):
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

    def plan(self, aus: np.ndarray) -> np.ndarray:
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
