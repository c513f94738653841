"""Head motion as `talkinghead eval` measures it (issue 26): how far and how fast the head
turns, whether it moves with its own speech, and whether the background stays put.

Angles are face-mesh head poses (`face.head_pose.landmark_angles`: yaw, pitch, roll in
degrees, NaN rows where no face fits), so a render and a real clip are read the same way.
The definitions are those of the real-clip study (docs/results/2026-12-06-head-pose, its
head_pose_stats.py), so renders compare with its numbers: speed is thevals' raw one (mean
|frame difference| x fps per axis, no smoothing); the speech relation is the Pearson r of
the head's 3-axis speed (angles Gaussian-smoothed, sigma 1 frame) with the loudness with
the head 4 frames ahead (real heads anticipate stress by ~160 ms), and of both on 1 s
moving averages (phrasing), each beside the same head with another clip's loudness: single
clips are noisy, so only own > mismatched over many clips says the motion follows speech.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from audio2au.head_measures import lagged_r, moving_average, nan_convolve, raw_speed, rotation_std

# Goals (issue 26), on unseen portraits with default settings; real web-style clips of the
# held-out speakers: rotation std ~2.7 deg, raw speed ~14 deg/s.
ROTATION_GOAL = (1.5, 8.0)  # mean over the axes of each axis's rotation std, degrees
SPEED_GOAL = (5.0, 30.0)  # mean over the axes of the raw angular speed, deg/s
STILL_GOAL = 1.0  # at --head-motion 0 every axis's rotation std stays below this, degrees
# ... judged on frames at least this tall: on smaller faces the face mesh's own jitter
# reads a still head as moving (a 224 px crop: 1.1 degrees with or without a pose path).
STILL_MIN_HEIGHT = 360
BACKGROUND_GOAL = 3.0  # grey levels (0-255) outside the grown face box; the codec alone gives 1.2-1.7

LEAD = -4  # frames: head[t + LEAD] against loudness[t], the head before the sound
SIGMA = 1.0  # frames: smoothing of the angles before the relation's speed (removes mesh jitter)
PHRASE_S = 1.0  # the moving average of the phrase-level relation, seconds
MIN_FOUND = 0.5  # share of frames with a pose a clip's head needs to be measured (else NaN)
# The background: outside the face-mesh box grown by these face widths left, right, up, down
# (hair, ears, neck and shoulders move with a turning head; what lies beyond must not).
GROW = (0.8, 0.8, 0.8, 1.2)
BACKGROUND_EVERY = 5  # frames: every 5th one is plenty for a mean difference
RELATIONS = ("lead", "phrase")  # the relation's two time scales, each with a "_mismatched" twin
RELATION_KEYS = (*RELATIONS, *(f"{k}_mismatched" for k in RELATIONS))
SOURCES = ("real", "render")


def head_speed(angles: np.ndarray, fps: float) -> np.ndarray:
    """(frames,) 3-axis angular speed in deg/s of the smoothed angles (central differences);
    NaN next to a frame without a face."""
    angles = np.asarray(angles, np.float64)
    if len(angles) < 2:
        return np.full(len(angles), np.nan)
    r = int(np.ceil(2 * SIGMA))
    kernel = np.exp(-0.5 * (np.arange(-r, r + 1) / SIGMA) ** 2)
    smooth = np.stack([nan_convolve(a, kernel)[0] for a in angles.T], -1)
    smooth[~np.isfinite(angles).all(1)] = np.nan
    return np.linalg.norm(np.gradient(smooth, axis=0), axis=1) * fps


def speech_relation(angles: np.ndarray, level_db: np.ndarray, other_level_db: np.ndarray | None, fps: float) -> dict:
    """r of the head speed with its own loudness (dB per frame) at LEAD and on PHRASE_S
    averages, and the same with another clip's loudness (cut to equal length; NaN without)."""
    speed = head_speed(angles, fps)
    width = max(1, round(PHRASE_S * fps))

    def relation(level: np.ndarray) -> tuple[float, float]:
        n = min(len(speed), len(level))
        head, level = speed[:n], np.asarray(level, np.float64)[:n]
        return lagged_r(head, level, LEAD), lagged_r(moving_average(head, width), moving_average(level, width), 0)

    mismatched = relation(other_level_db) if other_level_db is not None else (float("nan"),) * len(RELATIONS)
    return dict(zip(RELATION_KEYS, (*relation(level_db), *mismatched)))


def head_stats(angles: np.ndarray, fps: float, level_db: np.ndarray, other_level_db: np.ndarray | None) -> dict:
    """One clip's head: rotation std per axis and its mean, raw speed, the share of frames
    with a pose, and the speech relation; all NaN but the share under MIN_FOUND (a face the
    mesh mostly misses gives a few scattered frames, not a head's motion)."""
    found = float(np.isfinite(angles).all(1).mean()) if len(angles) else 0.0
    if found < MIN_FOUND:
        nan = float("nan")
        return {
            "rot_std": [nan] * 3,
            "rot_std_mean": nan,
            "speed": nan,
            "found": found,
            "relation": dict.fromkeys(RELATION_KEYS, nan),
        }
    std = rotation_std(angles)
    return {
        "rot_std": std.tolist(),
        "rot_std_mean": float(std.mean()),
        "speed": raw_speed(angles, fps),
        "found": found,
        "relation": speech_relation(angles, level_db, other_level_db, fps),
    }


def background_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) True outside the face-mesh box (x, y of `landmarks`) grown by GROW face widths."""
    (x0, y0), (x1, y1) = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
    width = x1 - x0
    left, right, up, down = GROW
    box = [int(np.floor(v)) for v in (x0 - left * width, y0 - up * width)]
    end = [int(np.ceil(v)) for v in (x1 + right * width, y1 + down * width)]
    mask = np.ones(shape[:2], bool)
    mask[max(0, box[1]) : max(0, end[1]), max(0, box[0]) : max(0, end[0])] = False
    return mask


def background_difference(frames: Iterable[np.ndarray], photo: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean absolute grey difference (0-255) between each RGB frame and the photo outside the
    grown face box of the photo's `landmarks`, averaged over the frames; NaN when the box
    covers the whole frame or there are no frames."""
    mask = background_mask(landmarks, photo.shape)
    if not mask.any():
        return float("nan")
    still = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[mask].astype(np.int16)
    diffs = []
    for frame in frames:
        if frame.shape != photo.shape:
            raise ValueError(f"frame {frame.shape} and photo {photo.shape} differ in size")
        diffs.append(np.abs(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[mask].astype(np.int16) - still).mean())
    return float(np.mean(diffs)) if diffs else float("nan")


def _nanmean(values: Sequence[float]) -> float:
    found = np.array([np.nan if v is None else v for v in values], np.float64)
    found = found[np.isfinite(found)]
    return float(found.mean()) if len(found) else float("nan")


def head_means(rows: list[dict]) -> dict:
    """Means over the clips with head measures (a clip counts once; undefined values left
    out) of the real and the rendered heads, the background, and the still-head check."""
    heads = [r["head"] for r in rows if "real" in r.get("head", {})]
    out: dict = {"clips": len(heads)}
    for source in SOURCES:
        stats = [h[source] for h in heads]
        out[source] = {
            "rot_std": [_nanmean([s["rot_std"][i] for s in stats]) for i in range(3)],
            **{k: _nanmean([s[k] for s in stats]) for k in ("rot_std_mean", "speed")},
            "relation": {k: _nanmean([s["relation"][k] for s in stats]) for k in RELATION_KEYS},
        }
    backgrounds = [b for h in heads if (b := h["background"]) is not None and np.isfinite(b)]
    out["background"] = _nanmean(backgrounds)
    out["background_max"] = max(backgrounds, default=float("nan"))
    out["background_clips"] = len(backgrounds)  # close crops have none outside the grown box
    still = [
        {"clip": r["clip"], "rot_std": r["head"]["still_rot_std"], "height": r["head"]["height"]}
        for r in rows
        if "still_rot_std" in r.get("head", {})
    ]
    out["still"] = still  # per clip: the tracker's jitter on a head that does not move
    return out
