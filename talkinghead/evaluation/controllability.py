"""AU controllability on unseen faces (paper section 5.4, made quantitative): each face is
rendered neutral (all AUs 0) and with one AU at a time raised to each level; the tracker
measures the result. Per AU: the correlation between requested and measured values over
all faces and levels, the least-squares slope, and the mean measured value per level.
A generator that ignores a coefficient scores r near 0 on it.
"""

from __future__ import annotations

import numpy as np

from audio2au.evaluate import mean_ignoring_nan, pearson
from gath.inference import FaceAnimator
from talkinghead.evaluation.measure import CropMeasurer

LEVELS = (0.0, 0.5, 1.0)


def sweep(n_aus: int, levels: tuple[float, ...] = LEVELS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The AU vectors of one face's sweep: row 0 neutral, then each AU at each non-zero
    level. Returns (aus (R, K), which AU each row raises (-1 for neutral), its level)."""
    raised = [lv for lv in levels if lv > 0]
    au = np.array([-1] + [k for k in range(n_aus) for _ in raised])
    level = np.array([0.0] + raised * n_aus, np.float32)
    aus = np.zeros((len(au), n_aus), np.float32)
    aus[np.arange(1, len(au)), au[1:]] = level[1:]
    return aus, au, level


def render_batches(animator: FaceAnimator, aus: np.ndarray, batch_size: int, bar=None) -> np.ndarray:
    """The current source rendered with every row of `aus`, `batch_size` rows at a time."""
    out = []
    for i in range(0, len(aus), batch_size):
        out.append(animator.render(aus[i : i + batch_size]))
        if bar is not None:
            bar.update(len(out[-1]))
    return np.concatenate(out)


def render_sweep(
    animator: FaceAnimator, crops: np.ndarray, measurer: CropMeasurer, batch_size: int, bar=None
) -> np.ndarray:
    """(faces, R, K) measured AUs of every face's sweep (NaN rows where the tracker lost the face)."""
    aus, _, _ = sweep(len(animator.au_names))
    out = []
    for crop in crops:
        animator.set_source(crop)
        out.append(measurer(render_batches(animator, aus, batch_size, bar), bar).aus)
    return np.stack(out)


def controllability(measured: np.ndarray, au_names: tuple[str, ...]) -> dict:
    """Per-AU {"r", "slope", "by_level"} from the sweep's measurements, and the mean r."""
    _, au, level = sweep(len(au_names))
    per_au = {}
    for k, name in enumerate(au_names):
        rows = (au == -1) | (au == k)
        req = np.broadcast_to(level[rows], measured[:, rows, k].shape).ravel()
        got = measured[:, rows, k].ravel()
        ok = np.isfinite(got)
        r = pearson(req[ok], got[ok]) if ok.sum() > 2 else float("nan")
        slope = float(np.polyfit(req[ok], got[ok], 1)[0]) if len(np.unique(req[ok])) > 1 else float("nan")
        by_level = [mean_ignoring_nan(got[req == lv]) for lv in LEVELS]
        per_au[name] = {"r": r, "slope": slope, "by_level": by_level}
    rs = np.array([v["r"] for v in per_au.values()])
    return {
        "levels": list(LEVELS),
        "per_au": per_au,
        "mean_r": mean_ignoring_nan(rs),
        "tracked": float(np.isfinite(measured).all(axis=2).mean()),
    }
