"""Continuous AU (ARKit blendshape) coefficients from 3D face landmarks.

Each coefficient in `actionunits.AU_NAMES` is one geometric measure of the face mesh taken
after head pose and scale are removed (a 3D similarity fit of rigid points - forehead,
nose bridge, eye corners, temples - onto a reference head whose inter-ocular distance is
1), mapped linearly so that 0 is the neutral face and 1 the strong end of what the real
calibration data showed:

    value = clip((measure - neutral) / (strong - neutral), 0, 1)

`neutral` and `strong` come from `au_calibration.json` (shipped in the package, rebuilt by
`python -m talkinghead.face.calibrate`). For video, `neutral_from_clip=True` (the default of
`track_video`, `prepare` and `track`) replaces the population neutral by the clip's own rest
value (a low percentile for mouth opening, the median otherwise; clamped near the
population neutral so a clip that smiles throughout still reads as smiling). Like
OpenFace's person-specific normalisation, this removes identity geometry such as a long
chin or a naturally down-turned mouth. Temporal smoothing removes jitter without lag.

A video's series also carries the head pose (`head_pose.landmark_angles`) relative to the
clip's mean pose: a driver's head turns, not where they sat facing the camera.

Left/Right are the subject's own sides (ARKit convention).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from actionunits import AU_NAMES, AUSeries
from actionunits.atomic import atomic_output
from actionunits.series import smooth_in_time
from talkinghead.face.head_pose import landmark_angles

# Rigid points for pose removal: forehead, nose bridge, eye corners, temples.
RIGID = (10, 151, 9, 8, 109, 338, 67, 297, 168, 6, 197, 195, 5, 4, 33, 133, 263, 362, 127, 356, 234, 454, 162, 389)
NOSE_BRIDGE = 168

CALIBRATION_FILE = "au_calibration.json"
# Bump when a measure or its AU mapping changes meaning: models fit on tracked AUs (the
# renderer's motion model) record tracker_version() and refuse another one.
MEASURES_VERSION = 1


def _y(p: np.ndarray, i: int) -> np.ndarray:
    return p[:, i, 1]


def _x(p: np.ndarray, i: int) -> np.ndarray:
    return p[:, i, 0]


def _mean_y(p: np.ndarray, idx: tuple[int, ...]) -> np.ndarray:
    return p[:, list(idx), 1].mean(axis=1)


def _eye_aperture(p: np.ndarray, pairs: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> np.ndarray:
    gap = np.mean([np.linalg.norm(p[:, a, :2] - p[:, b, :2], axis=1) for a, b in pairs], axis=0)
    width = np.linalg.norm(p[:, corners[0], :2] - p[:, corners[1], :2], axis=1)
    return gap / np.maximum(width, 1e-6)


# Measures on pose-free landmarks (N, 478, 3), x towards the subject's left, y down, unit =
# inter-ocular distance. Each returns (N,).
MEASURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jaw_drop": lambda p: _y(p, 152) - _y(p, 2),
    "lip_gap": lambda p: _y(p, 14) - _y(p, 13),
    "jaw_lips_sealed": lambda p: (_y(p, 152) - _y(p, 2)) - (_y(p, 14) - _y(p, 13)),
    "mouth_width": lambda p: _x(p, 291) - _x(p, 61),
    "mouth_round": lambda p: (_y(p, 14) - _y(p, 13)) / np.maximum(_x(p, 308) - _x(p, 78), 1e-6),
    # Corner lift plus half the mouth width: a smile raises and widens (separates happy
    # from angry or surprised stills best on the labelled data).
    "corner_height_l": lambda p: _y(p, 2) - _y(p, 291) + 0.5 * (_x(p, 291) - _x(p, 61)),
    "corner_height_r": lambda p: _y(p, 2) - _y(p, 61) + 0.5 * (_x(p, 291) - _x(p, 61)),
    "corner_out_l": lambda p: _x(p, 291) - _x(p, NOSE_BRIDGE),
    "corner_out_r": lambda p: _x(p, NOSE_BRIDGE) - _x(p, 61),
    "lip_thickness_l": lambda p: (_y(p, 314) - _y(p, 267)) - (_y(p, 317) - _y(p, 312)),
    "lip_thickness_r": lambda p: (_y(p, 84) - _y(p, 37)) - (_y(p, 87) - _y(p, 82)),
    "upper_lip_l": lambda p: _y(p, 267) - _y(p, 2),
    "upper_lip_r": lambda p: _y(p, 37) - _y(p, 2),
    "lower_lip_l": lambda p: _y(p, 152) - _y(p, 314),
    "lower_lip_r": lambda p: _y(p, 152) - _y(p, 84),
    "brow_inner": lambda p: 0.5 * (_y(p, 133) - _mean_y(p, (107, 55)) + _y(p, 362) - _mean_y(p, (336, 285))),
    "brow_inner_l": lambda p: _y(p, 362) - _mean_y(p, (336, 285)) + 0.5 * (_x(p, 336) - _x(p, 107)),
    "brow_inner_r": lambda p: _y(p, 133) - _mean_y(p, (107, 55)) + 0.5 * (_x(p, 336) - _x(p, 107)),
    "brow_outer_l": lambda p: _y(p, 263) - _mean_y(p, (300, 276)),
    "brow_outer_r": lambda p: _y(p, 33) - _mean_y(p, (70, 46)),
    "eye_open_l": lambda p: _eye_aperture(p, ((386, 374), (385, 380), (387, 373)), (263, 362)),
    "eye_open_r": lambda p: _eye_aperture(p, ((159, 145), (158, 153), (160, 144)), (33, 133)),
    "cheek_l": lambda p: _y(p, 280) - _mean_y(p, (374, 380, 373)),
    "cheek_r": lambda p: _y(p, 50) - _mean_y(p, (145, 153, 144)),
}


def _sides(au: str, measure: str, direction: int) -> dict[str, tuple[str, int]]:
    """{auLeft: (measure_l, direction), auRight: (measure_r, direction)}."""
    return {f"{au}Left": (f"{measure}_l", direction), f"{au}Right": (f"{measure}_r", direction)}


# AU name -> (measure, direction): +1 when the AU grows with the measure, -1 when it shrinks.
AU_MEASURES: dict[str, tuple[str, int]] = {
    "jawOpen": ("jaw_drop", +1),
    "mouthClose": ("jaw_lips_sealed", +1),
    "mouthPucker": ("mouth_width", -1),
    "mouthFunnel": ("mouth_round", +1),
    **_sides("mouthSmile", "corner_height", +1),
    **_sides("mouthFrown", "corner_height", -1),
    **_sides("mouthStretch", "corner_out", +1),
    **_sides("mouthPress", "lip_thickness", -1),
    **_sides("mouthUpperUp", "upper_lip", -1),
    **_sides("mouthLowerDown", "lower_lip", -1),
    "browInnerUp": ("brow_inner", +1),
    **_sides("browOuterUp", "brow_outer", +1),
    **_sides("browDown", "brow_inner", -1),
    **_sides("eyeBlink", "eye_open", -1),
    **_sides("eyeWide", "eye_open", +1),
    **_sides("cheekSquint", "cheek", -1),
}

# Per-clip neutral: the percentile of a clip's measure taken as its rest value. Mouth
# opening rests closed (a low percentile); everything else rests most of the time (median).
CLIP_NEUTRAL_PERCENTILE = {"jaw_drop": 5.0, "lip_gap": 5.0, "mouth_round": 5.0}
DEFAULT_CLIP_PERCENTILE = 50.0
# A clip's neutral may move at most this fraction of the calibrated range away from the
# population neutral, so a clip that smiles throughout still reads as smiling.
CLIP_NEUTRAL_MAX_SHIFT = 0.35

# Stretch is a sideways pull without the lift of a smile: the smile's share is removed.
STRETCH_MINUS_SMILE = (("mouthStretchLeft", "mouthSmileLeft"), ("mouthStretchRight", "mouthSmileRight"))

# Frames whose rigid points fit the reference worse than this (inter-ocular units, RMS)
# are tracking failures (occlusion, profile views, a false detection).
MAX_RIGID_RESIDUAL = 0.12


@dataclass(frozen=True)
class Calibration:
    """Reference head (rigid points) and per-measure neutral/strong values."""

    reference: np.ndarray  # (len(RIGID), 3)
    neutral: dict[str, float]
    strong: dict[str, float]

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Calibration:
        if path is None:
            text = resources.files("talkinghead.face").joinpath(CALIBRATION_FILE).read_text()
        else:
            text = Path(path).read_text()
        d = json.loads(text)
        return cls(np.array(d["reference"], dtype=np.float64), dict(d["neutral"]), dict(d["strong"]))

    def save(self, path: str | os.PathLike) -> None:
        d = {
            "rigid_points": list(RIGID),
            "reference": np.round(self.reference, 5).tolist(),
            "neutral": {k: round(float(v), 5) for k, v in self.neutral.items()},
            "strong": {k: round(float(v), 5) for k, v in self.strong.items()},
        }
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(d, indent=1) + "\n")


def tracker_version() -> str:
    """Short hash of what the AU values mean: the measure definitions' version and the
    shipped calibration (neutral and strong ends)."""
    import hashlib

    text = resources.files("talkinghead.face").joinpath(CALIBRATION_FILE).read_text()
    return hashlib.sha256(f"{MEASURES_VERSION}\n{text}".encode()).hexdigest()[:16]


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched similarity src (N,K,3) -> dst (K,3): scale (N,), rotation (N,3,3), translation (N,3)."""
    mu_s = src.mean(axis=1, keepdims=True)
    mu_d = dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    cov = np.einsum("kd,nke->nde", xd, xs) / src.shape[1]
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones((len(src), 3))
    d[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rot = u @ (d[:, :, None] * vt)
    var_s = (xs**2).sum(axis=(1, 2)) / src.shape[1]
    scale = (sig * d).sum(axis=1) / np.maximum(var_s, 1e-12)
    trans = mu_d - scale[:, None] * np.einsum("nde,ne->nd", rot, mu_s[:, 0])
    return scale, rot, trans


def head_pose(landmarks: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale and rotation mapping one face's landmarks (478, 3) into the reference head
    frame: pose-free = scale * rotation @ point + translation."""
    scale, rot, _ = _umeyama(np.asarray(landmarks, np.float64)[None, list(RIGID)], reference)
    return float(scale[0]), rot[0]


def remove_pose(landmarks: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map landmarks (N,478,3) into the reference head frame. Returns (pose-free landmarks,
    RMS residual of the rigid points per frame, in inter-ocular units)."""
    src = landmarks[:, list(RIGID)].astype(np.float64)
    scale, rot, trans = _umeyama(src, reference)
    out = scale[:, None, None] * np.einsum("nde,nke->nkd", rot, landmarks.astype(np.float64)) + trans[:, None]
    resid = np.sqrt(((out[:, list(RIGID)] - reference) ** 2).sum(-1).mean(-1))
    return out, resid


def measures(pose_free: np.ndarray) -> dict[str, np.ndarray]:
    return {name: fn(pose_free) for name, fn in MEASURES.items()}


def interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill rows where valid is False by linear interpolation over time (nearest at the ends)."""
    if valid.all() or not valid.any():
        return values
    t = np.arange(len(values))
    out = values.copy()
    for j in range(values.shape[1]):
        out[~valid, j] = np.interp(t[~valid], t[valid], values[valid, j])
    return out


class AUTracker:
    """Turns landmarks (or images, via mediapipe) into AU vectors in `names` order."""

    def __init__(self, calibration: Calibration | None = None, names: tuple[str, ...] = AU_NAMES) -> None:
        self.calibration = calibration or Calibration.load()
        unknown = [n for n in names if n not in AU_MEASURES]
        if unknown:
            raise ValueError(f"no measure defined for AUs {unknown}")
        self.names = tuple(names)

    def measure(self, landmarks: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Raw measures and a per-frame validity mask for landmarks (N,478,3); NaN rows = no face."""
        lm = np.asarray(landmarks, dtype=np.float64)
        present = np.isfinite(lm).all(axis=(1, 2))
        safe = np.where(present[:, None, None], lm, 0.0)
        if not present.any():
            return {k: np.full(len(lm), np.nan) for k in MEASURES}, present
        pose_free, resid = remove_pose(safe, self.calibration.reference)
        valid = present & (resid < MAX_RIGID_RESIDUAL)
        return measures(pose_free), valid

    def coefficients(self, raw: dict[str, np.ndarray], neutral: dict[str, float] | None = None) -> np.ndarray:
        """Map raw measures to (N, len(names)) coefficients in [0, 1]."""
        cal = self.calibration
        neutral = neutral or {}
        by_name: dict[str, np.ndarray] = {}
        for name in AU_NAMES:
            measure, direction = AU_MEASURES[name]
            n0 = cal.neutral[measure]
            span = abs(cal.strong[f"{measure}{'+' if direction > 0 else '-'}"] - n0)
            n = neutral.get(measure, n0)
            by_name[name] = np.clip(direction * (raw[measure] - n) / max(span, 1e-6), 0.0, 1.0)
        for stretch, smile in STRETCH_MINUS_SMILE:
            by_name[stretch] = np.clip(by_name[stretch] - by_name[smile], 0.0, 1.0)
        return np.stack([by_name[n] for n in self.names], axis=1).astype(np.float32)

    def from_landmarks(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, len(names)) coefficients and the valid mask for landmarks (N,478,3)."""
        raw, valid = self.measure(landmarks)
        return self.coefficients(raw), valid

    def track_image(self, rgb: np.ndarray, face_index: int | None = None, detector=None) -> np.ndarray | None:
        """AU vector of one face in an RGB uint8 image (largest by default), None if no face."""
        from talkinghead.face.landmarks import LandmarkDetector

        if detector is None:
            with LandmarkDetector(video=False) as det:
                faces = det.detect(rgb)
        else:
            faces = detector.detect(rgb)
        index = face_index or 0
        if index >= len(faces):
            return None
        aus, valid = self.from_landmarks(faces[index][None])
        return aus[0] if valid[0] else None

    def clip_neutral(self, raw: dict[str, np.ndarray], valid: np.ndarray) -> dict[str, float]:
        """Each measure's rest value in this clip, kept near the population neutral."""
        cal = self.calibration
        out = {}
        for k, v in raw.items():
            n0 = cal.neutral[k]
            span = max(abs(cal.strong.get(f"{k}{sign}", n0) - n0) for sign in "+-")
            q = float(np.percentile(v[valid], CLIP_NEUTRAL_PERCENTILE.get(k, DEFAULT_CLIP_PERCENTILE)))
            out[k] = float(np.clip(q, n0 - CLIP_NEUTRAL_MAX_SHIFT * span, n0 + CLIP_NEUTRAL_MAX_SHIFT * span))
        return out

    def series(
        self, landmarks: np.ndarray, fps: float, neutral_from_clip: bool = False, smooth: bool = True
    ) -> AUSeries:
        """An AUSeries from per-frame landmarks (NaN rows where no face): failed frames are
        interpolated and marked valid=False. Its head pose is relative to the mean pose of
        the valid frames (None when there is none)."""
        raw, valid = self.measure(landmarks)
        neutral = self.clip_neutral(raw, valid) if neutral_from_clip and valid.sum() >= 10 else None
        values = self.coefficients({k: np.nan_to_num(v) for k, v in raw.items()}, neutral)
        values = interpolate_missing(values, valid)
        pose, posed = landmark_angles(landmarks)
        pose = interpolate_missing(pose - pose[posed].mean(axis=0), posed) if posed.any() else None
        if smooth and valid.any():
            sigma_s = 0.03  # 30 ms keeps blinks
            values = np.clip(smooth_in_time(values, fps, sigma_s), 0.0, 1.0)
            pose = None if pose is None else smooth_in_time(pose, fps, sigma_s)
        return AUSeries(values, fps, self.names, valid, pose)


def track_video(
    path: str | os.PathLike,
    fps: float | None = None,
    neutral_from_clip: bool = True,
    smooth: bool = True,
    tracker: AUTracker | None = None,
    on_frame: Callable[[int, np.ndarray, np.ndarray | None], None] | None = None,
) -> AUSeries:
    """The AU series of a video at `fps` (default: its own rate).

    `on_frame(index, rgb, landmarks_or_None)` is called for every sampled frame, so a caller
    (prepare) can save aligned crops in the same decoding pass. Raises UserError when the
    video cannot be read or no face is found in any frame.
    """
    from talkinghead.errors import UserError
    from talkinghead.face.landmarks import N_LANDMARKS, LandmarkDetector
    from talkinghead.io.video_frames import VideoFrames

    frames = VideoFrames(path, fps)
    tracker = tracker or AUTracker()
    missing = np.full((N_LANDMARKS, 3), np.nan, np.float32)
    rows = []
    with LandmarkDetector(video=True) as det:
        for i, rgb in enumerate(frames):
            faces = det.detect(rgb)
            lm = faces[0] if faces else None
            rows.append(lm if lm is not None else missing)
            if on_frame is not None:
                on_frame(i, rgb, lm)
    if not rows:
        raise UserError(f"{path}: no frames decoded")
    series = tracker.series(np.stack(rows), frames.fps, neutral_from_clip, smooth)
    if not series.valid.any():
        raise UserError(f"{path}: no face found in any frame")
    return series
