"""The real mouth and the voice, as plain per-frame arrays: the inner-lip gap measured from
face-mesh landmarks, the loudness of the audio around each frame and which frames hold
speech. The lip-sync evaluation compares predictions with these, and training can use them
to find a speaker's rest. Pure numpy: no images, no face detector.
"""

from __future__ import annotations

import numpy as np

from audio2au.features import SAMPLE_RATE, frame_centers

# MediaPipe face-mesh (478 points) indices: inner lips at the centre, eye corners.
INNER_LIP_TOP, INNER_LIP_BOTTOM = 13, 14  # the inner lips' midpoints
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (263, 362)

# The AUs that part the lips; the renderer adds them to the photo's rest, so they must be 0
# when nobody speaks.
LIP_OPENING_AUS = (
    "jawOpen",
    "mouthFunnel",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
)
# A lip gap in AU terms: mouthFunnel (which this project's tracker reads from the inner-lip
# gap over the mouth width) plus jawOpen plus a quarter of each of the four lip AUs (upper
# lip up, lower lip down), less mouthClose (lips sealed although the jaw drops). On the
# tracker's own labels it correlates 0.94 (mean over the 89 speakers of the shared data)
# with the measured gap; mouthFunnel alone 0.95 but -0.8 on one speaker, jawOpen alone 0.57.
AU_GAP_WEIGHTS = {
    "mouthFunnel": 1.0,
    "jawOpen": 1.0,
    "mouthUpperUpLeft": 0.25,
    "mouthUpperUpRight": 0.25,
    "mouthLowerDownLeft": 0.25,
    "mouthLowerDownRight": 0.25,
    "mouthClose": -1.0,
}

RMS_WINDOW_MS = 40.0
# Voice activity from the level alone (speech_frames). Speech: within SPEECH_RANGE_DB of the
# clip's loud frames (95th percentile) and FLOOR_MARGIN_DB above its noise floor (5th
# percentile), the latter never asking for more than MAX_MARGIN_DB below the loud frames (so
# a noisy recording is not all pause); quieter runs shorter than MIN_PAUSE_S are speech (stop
# closures). On GRID s1's word alignments: 84 % of frames right (silence found 74 %, speech
# 94 %); the 30 dB rule alone finds 16 % of GRID's silence, whose noise floor is ~34 dB down.
SPEECH_RANGE_DB = 30.0
FLOOR_MARGIN_DB = 12.0
MAX_MARGIN_DB = 20.0
MIN_PAUSE_S = 0.16
_FLOOR_DB = -100.0


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """(frames,) inner-lip gap (points 13-14) over the distance between the eye centres, in
    the image plane: scale-free, so clips of any size and distance compare. NaN where the
    landmarks are NaN (no face)."""
    shape = np.shape(landmarks)
    if len(shape) != 3 or shape[1] <= max(LEFT_EYE_CORNERS + RIGHT_EYE_CORNERS) or shape[2] < 2:
        raise ValueError(f"expected (frames, 478, 2 or 3) face-mesh landmarks, got shape {shape}")
    points = (INNER_LIP_TOP, INNER_LIP_BOTTOM, *RIGHT_EYE_CORNERS, *LEFT_EYE_CORNERS)
    pts = np.asarray(landmarks[:, points, :2], dtype=np.float64)  # reads only these from a memory map
    gap = np.linalg.norm(pts[:, 0] - pts[:, 1], axis=1)
    eyes = np.linalg.norm(pts[:, 2:4].mean(1) - pts[:, 4:6].mean(1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(eyes > 0, gap / eyes, np.nan)


def au_lip_gap(aus: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(frames,) the lip gap an AU series asks for (AU_GAP_WEIGHTS over the AUs present)."""
    aus = np.asarray(aus, dtype=np.float64)
    gap = np.zeros(len(aus))
    for name, weight in AU_GAP_WEIGHTS.items():
        if name in names:
            gap += weight * aus[:, list(names).index(name)]
    return gap


def frame_rms_db(
    waveform: np.ndarray,
    fps: float,
    n_frames: int,
    window_ms: float = RMS_WINDOW_MS,
    offsets_ms: tuple[float, ...] = (0.0,),
) -> np.ndarray:
    """(frames, offsets) RMS level in dBFS of `window_ms` windows centred offset_ms from each
    frame's time (audio outside the clip is silence, floored at -100 dB)."""
    window = max(1, int(round(window_ms * SAMPLE_RATE / 1000)))
    offsets = np.rint(np.asarray(offsets_ms, dtype=np.float64) * SAMPLE_RATE / 1000).astype(np.int64)
    pad = int(np.abs(offsets).max()) + window
    centers = frame_centers(0, n_frames, fps)
    wav = np.zeros(2 * pad + max(len(waveform), int(centers[-1]) + 1 if n_frames else 0), np.float64)
    wav[pad : pad + len(waveform)] = waveform
    starts = centers[:, None] + offsets[None, :] + pad - window // 2
    energy = np.concatenate([[0.0], np.cumsum(wav**2)])
    power = np.maximum(energy[starts + window] - energy[starts], 0.0) / window  # cumsum rounding can dip below 0
    return 10 * np.log10(power + 10 ** (_FLOOR_DB / 10))


def speech_threshold(level_db: np.ndarray) -> float:
    """The level (dB) at and above which a frame counts as speech (see SPEECH_RANGE_DB): it
    follows each recording's gain and noise floor."""
    level_db = np.asarray(level_db, dtype=np.float64)
    if not len(level_db):
        return 0.0
    floor, loud = np.percentile(level_db, (5, 95))
    return float(max(loud - SPEECH_RANGE_DB, min(floor + FLOOR_MARGIN_DB, loud - MAX_MARGIN_DB)))


def speech_frames(level_db: np.ndarray, fps: float) -> np.ndarray:
    """(frames,) bool: a level-based voice-activity detector (speech_threshold, with pauses
    shorter than MIN_PAUSE_S inside speech counted as speech)."""
    speech = np.asarray(level_db) >= speech_threshold(level_db)
    min_pause = int(round(MIN_PAUSE_S * fps))
    edges = np.flatnonzero(np.diff(speech.astype(np.int8))) + 1  # first frame after each change
    starts, stops = edges[~speech[edges]], edges[speech[edges]]  # of pauses, of speech after them
    stops = stops[stops > starts[0]] if len(starts) else stops
    for start, stop in zip(starts, stops):  # pauses with speech on both sides
        if stop - start < min_pause:
            speech[start:stop] = True
    return speech


def gated_loudness(level_db: np.ndarray) -> np.ndarray:
    """The level above the speech threshold, 0 below it: loudness as a mouth that shuts
    whenever the voice stops."""
    level_db = np.asarray(level_db, dtype=np.float64)
    return np.maximum(level_db - speech_threshold(level_db), 0.0)
