"""Read an AU series from a CSV: this project's format, or blendshape CSVs of face-capture
apps (ARKit names), mapped by name.

Capture apps spell ARKit names in several ways: `jawOpen` (ARKit's API), `JawOpen`
(Live Link Face), `eyeBlink_L` (ARKit's raw values). All are matched to AU_NAMES by a
normalised key. Time comes from a seconds column (`time`, `timestamp`, ...) or from a
`Timecode` column (HH:MM:SS:FF[.sub]), whose frame rate is read from the frame field.

Head rotation columns (`HeadYaw`, `HeadPitch`, `HeadRoll` in radians, as Live Link Face
writes them; spelled in any of the ways above) become the series' head pose in degrees,
relative to the clip's mean pose, since the photo's pose is where the head rests. They are
read as our axes and signs (`actionunits.series.POSE_NAMES`); an app's may differ.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from actionunits import AU_NAMES, AUSeries
from actionunits.series import POSE_COLUMNS, pose_from_columns
from talkinghead.errors import UserError

SECONDS_COLUMNS = ("time", "timestamp", "seconds", "time_s", "t")
TIMECODE_COLUMNS = ("timecode",)
COMMON_FPS = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)


def name_key(name: str) -> str:
    """'eyeBlink_L', 'EyeBlinkLeft', 'eye_blink_left' -> 'eyeblinkleft'."""
    n = name.strip()
    n = re.sub(r"_L$", "Left", n)
    n = re.sub(r"_R$", "Right", n)
    return re.sub(r"[^a-z0-9]", "", n.lower())


_KEYS = {name_key(n): n for n in AU_NAMES}
_POSE_KEYS = [name_key(n) for n in POSE_COLUMNS]


def _timecode_frames(values: list[str]) -> tuple[np.ndarray, float]:
    """Frame numbers and frame rate from HH:MM:SS:FF[.sub] timecodes."""
    parsed = []
    for v in values:
        m = re.fullmatch(r"\s*(\d+):(\d+):(\d+)[:;](\d+(?:\.\d+)?)\s*", v)
        if not m:
            raise ValueError(f"bad timecode {v!r}")
        hh, mm, ss, ff = int(m[1]), int(m[2]), int(m[3]), float(m[4])
        parsed.append((hh * 3600 + mm * 60 + ss, ff))
    max_frame = max(int(ff) for _, ff in parsed)
    fps = next((f for f in COMMON_FPS if f > max_frame), max_frame + 1.0)
    return np.array([s * fps + ff for s, ff in parsed]), fps


def read_au_csv(path: str | os.PathLike, fps: float | None = None) -> AUSeries:
    """The AU series in `path` with columns named as AU_NAMES (any spelling above), and its
    head pose when it has head columns (a missing one is 0; none: pose None). Missing AUs
    are 0; values are clipped to [0, 1]. Raises UserError with one line on bad input."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"AU CSV {path} not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read AU CSV {path}: {e}") from None
    if len(rows) < 2:
        raise UserError(f"AU CSV {path} has no data rows")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    columns = {_KEYS[name_key(h)]: i for i, h in enumerate(header) if name_key(h) in _KEYS}
    if not columns:
        raise UserError(f"AU CSV {path} has no column named like an AU (e.g. jawOpen, JawOpen, jawOpen_L)")
    names = tuple(n for n in AU_NAMES if n in columns)
    keys = [name_key(h) for h in header]
    head = [keys.index(k) if k in keys else None for k in _POSE_KEYS]
    try:
        values = np.array([[float(r[columns[n]]) for n in names] for r in rows[1:]], dtype=np.float64)
        radians = np.array([[0.0 if i is None else float(r[i]) for i in head] for r in rows[1:]], dtype=np.float64)
        if fps is None:
            if any(c in lower for c in SECONDS_COLUMNS):
                col = next(lower.index(c) for c in SECONDS_COLUMNS if c in lower)
                times = np.array([float(r[col]) for r in rows[1:]])
            elif any(c in lower for c in TIMECODE_COLUMNS):
                frames, tc_fps = _timecode_frames([r[lower.index("timecode")] for r in rows[1:]])
                times = frames / tc_fps
            else:
                raise UserError(f"AU CSV {path} has no time or Timecode column; give its frame rate with --csv-fps")
            steps = np.diff(times)
            if len(times) < 2 or not np.all(steps > 0):
                raise UserError(f"AU CSV {path}: times must increase from row to row")
            fps = float((len(times) - 1) / (times[-1] - times[0]))  # robust to rounded times
    except (ValueError, IndexError) as e:
        raise UserError(f"AU CSV {path}: bad value ({e})") from None
    if not np.all(np.isfinite(values)):
        raise UserError(f"AU CSV {path} contains non-numeric AU values")
    if not np.all(np.isfinite(radians)):
        raise UserError(f"AU CSV {path} contains non-numeric head rotation values")
    pose = pose_from_columns(radians) if any(i is not None for i in head) else None
    series = AUSeries(np.clip(values, 0.0, 1.0), fps, names, pose=pose)
    return series.reorder(AU_NAMES)
