"""How a head pose series (yaw, pitch, roll in degrees per frame, NaN where no pose was
found) is measured, the real heads of the prepared clips and the model's or a render's
alike: its spread, its speed (thevals' raw definition), and how its speed follows the
speech (Pearson r at a lag, and of moving averages)."""

from __future__ import annotations

import numpy as np

from audio2au.evaluate import pearson

MIN_PAIRS = 20  # frames an r needs, else NaN


def rotation_std(angles: np.ndarray) -> np.ndarray:
    """(3,) std of yaw, pitch and roll in degrees over the frames with a face."""
    return np.nanstd(np.asarray(angles, np.float64), axis=0)


def raw_speed(angles: np.ndarray, fps: float) -> float:
    """Mean over the axes of mean |frame difference| x fps (thevals' speed), deg/s; pairs of
    frames with both angles found."""
    return float(np.nanmean(np.nanmean(np.abs(np.diff(np.asarray(angles, np.float64), axis=0)), axis=0)) * fps)


def nan_convolve(x: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of the finite values under the kernel, and their weights' share."""
    ok = np.isfinite(x)
    num = np.convolve(np.where(ok, x, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den, den / kernel.sum()


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred mean over `width` frames of the finite values; NaN where fewer than half exist."""
    mean, share = nan_convolve(np.asarray(x, np.float64), np.ones(width))
    return np.where(share >= 0.5, mean, np.nan)


def lagged_r(head: np.ndarray, level: np.ndarray, lag: int) -> float:
    """Pearson r of head[t + lag] with level[t] over the pairs where both exist (NaN under
    MIN_PAIRS)."""
    n = min(len(head), len(level))
    h, a = (head[lag:n], level[: n - lag]) if lag >= 0 else (head[: n + lag], level[-lag:n])
    ok = np.isfinite(h) & np.isfinite(a)
    return pearson(h[ok], a[ok]) if ok.sum() >= MIN_PAIRS else float("nan")
