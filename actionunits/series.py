"""AU series: a (frames x AUs) float32 array in [0, 1] at a frame rate, with its names,
and optionally the head pose beside it."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actionunits.atomic import atomic_output
from actionunits.names import AU_NAMES

# Head rotation in degrees, one row per frame beside the AUs, relative to the photo's own
# pose (0 = the photo's). Image axes (x right, y down, z away from the camera): yaw about y,
# pitch about x, roll about z, composed as R = Rz(roll) Ry(yaw) Rx(pitch).
POSE_NAMES = ("headYaw", "headPitch", "headRoll")
# How far each can turn (degrees either way): what the renderer's 2D warp shows without
# folding the far cheek or tearing the background (docs/render.md); models stay inside.
POSE_LIMITS = (15.0, 12.0, 10.0)
# The pose's CSV columns: ARKit / Live Link Face names, in radians as those apps write them.
POSE_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll")


def pose_from_columns(radians: np.ndarray) -> np.ndarray:
    """(frames, 3) head rotation columns in radians -> `pose` in degrees relative to the
    series' mean pose (the photo's pose is where the head rests)."""
    return np.degrees(radians - radians.mean(axis=0))


def smooth_in_time(values: np.ndarray, fps: float, sigma_s: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of (frames, AUs) along time (sigma in seconds): removes
    frame-to-frame jitter without delaying motion. Too small a sigma returns the input."""
    sigma = sigma_s * fps
    if sigma < 0.3 or len(values) < 2:
        return values
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(values.shape[1])], axis=1)


@dataclass
class AUSeries:
    """One AU vector per video frame. `valid` marks frames whose values were measured
    (False where a tracker failed and the value was interpolated); `pose` is the head pose
    (frames, len(POSE_NAMES)) in degrees, or None for a head that keeps the photo's pose."""

    values: np.ndarray
    fps: float
    names: tuple[str, ...] = AU_NAMES
    valid: np.ndarray | None = field(default=None)
    pose: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.names = tuple(self.names)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.names):
            raise ValueError(f"AU series must be (frames, {len(self.names)}), got {self.values.shape}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.valid is not None:
            self.valid = np.asarray(self.valid, dtype=bool)
            if self.valid.shape != (len(self.values),):
                raise ValueError("valid mask must have one entry per frame")
        if self.pose is not None:
            self.pose = np.asarray(self.pose, dtype=np.float32)
            if self.pose.shape != (len(self.values), len(POSE_NAMES)):
                raise ValueError(f"head pose must be (frames, {len(POSE_NAMES)}), got {self.pose.shape}")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.float64) / self.fps

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def reorder(self, names: tuple[str, ...] | list[str]) -> AUSeries:
        """The same series in another name order; names this series lacks are 0."""
        out = np.zeros((len(self), len(names)), dtype=np.float32)
        for j, n in enumerate(names):
            if n in self.names:
                out[:, j] = self.values[:, self.names.index(n)]
        return AUSeries(out, self.fps, tuple(names), self.valid, self.pose)

    def write_csv(self, path: str | os.PathLike) -> None:
        """Write `time,[valid,]<names>[,HeadYaw,HeadPitch,HeadRoll]` atomically (temp file,
        then rename). The head columns (`POSE_COLUMNS`, written when the series has a pose)
        are in radians, as face-capture apps write them, relative to the series' mean pose;
        their axes and signs are ours (`POSE_NAMES`), which an app's may not match."""
        pose = None if self.pose is None else np.radians(self.pose - self.pose.mean(axis=0, dtype=np.float64))
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            head = list(POSE_COLUMNS) if pose is not None else []
            w.writerow(["time", *(["valid"] if self.valid is not None else []), *self.names, *head])
            for i, (t, row) in enumerate(zip(self.times, self.values)):
                extra = [int(self.valid[i])] if self.valid is not None else []
                angles = [f"{a:.7f}" for a in pose[i]] if pose is not None else []
                w.writerow([f"{t:.6f}", *extra, *(f"{v:.5f}" for v in row), *angles])

    @classmethod
    def read_csv(cls, path: str | os.PathLike, fps: float | None = None) -> AUSeries:
        """Read a CSV with a `time` column and one column per AU name (any order, any
        subset of known names; unknown columns are ignored). fps comes from the time
        column unless given. Head columns (`POSE_COLUMNS`, radians; a missing one is 0)
        become `pose` in degrees relative to the mean pose; without any, pose is None."""
        path = Path(path)
        try:
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read AU CSV {path}: {e}") from None
        if len(rows) < 2:
            raise ValueError(f"AU CSV {path} has no data rows")
        header = [h.strip() for h in rows[0]]
        if "time" not in header:
            raise ValueError(f"AU CSV {path} has no 'time' column")
        names = tuple(h for h in header if h in AU_NAMES)
        if not names:
            raise ValueError(f"AU CSV {path} has no known AU columns")
        cols = [h for h in header if h in names or h in ("time", "valid", *POSE_COLUMNS)]
        try:
            data = np.array([[float(r[header.index(h)]) for h in cols] for r in rows[1:] if r], dtype=np.float64)
        except (ValueError, IndexError) as e:
            raise ValueError(f"AU CSV {path}: bad value ({e})") from None
        times = data[:, cols.index("time")]
        if fps is None:
            if len(times) < 2 or not np.all(np.diff(times) > 0):
                raise ValueError(f"AU CSV {path}: cannot infer fps from the time column")
            fps = float(round(1.0 / np.median(np.diff(times)), 3))
        values = np.clip(data[:, [cols.index(n) for n in names]], 0.0, 1.0)
        valid = data[:, cols.index("valid")] > 0.5 if "valid" in cols else None
        pose = None
        if any(c in cols for c in POSE_COLUMNS):
            radians = np.stack([data[:, cols.index(c)] if c in cols else np.zeros(len(data)) for c in POSE_COLUMNS], 1)
            pose = pose_from_columns(radians)
        return cls(values, fps, names, valid, pose)
