"""The paper's numbers (section 5): pixel-wise MAE and RMSE of intra-class syntheses against
the real target frame, over the full crop, over the face mask and (not in the paper) over
the mouth, each on the raw output and after CLAHE (Table 1), and the mouth's sharpness
relative to the real mouth's (a blurry average mouth lowers the error and looks wrong);
RMSE of tracked AU intensities against the target frame's, intra-class (Table 2) and
inter-class (Table 3).

Pixel errors are in 0-255 units, per channel, computed per image and averaged over images.
AU intensities are in [0, 1] (OpenFace's 0-5 in the paper).
"""

from __future__ import annotations

import cv2
import numpy as np

from gath.postprocess import Enhance
from talkinghead.evaluation.heldout import EvalPairs
from talkinghead.evaluation.measure import Measured

CLAHE = Enhance(clahe=True, denoise=False, sharpen=False)  # the paper's contrast restoration only
REGIONS = ("full", "mask", "mouth")
TREATMENTS = ("raw", "clahe")


def pixel_errors(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-image MAE and RMSE of (N, H, W, 3) uint8 images, over every pixel or over the
    pixels where `mask` (N, H, W) is true (NaN for an empty mask)."""
    d = pred.astype(np.float64) - real.astype(np.float64)
    w = np.ones(d.shape[:3]) if mask is None else mask.astype(np.float64)
    n = w.sum(axis=(1, 2)) * d.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mae = (np.abs(d) * w[..., None]).sum(axis=(1, 2, 3)) / n
        rmse = np.sqrt((d**2 * w[..., None]).sum(axis=(1, 2, 3)) / n)
    return mae, rmse


def sharpness_ratio(pred: np.ndarray, real: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per image: mean absolute Laplacian of the grey synthesis over that of the real image,
    inside `mask` (N, H, W); NaN where the mask is empty or the real region is flat."""

    def energy(images: np.ndarray) -> np.ndarray:
        grey = images.astype(np.float32).mean(-1)
        lap = np.abs(np.stack([cv2.Laplacian(g, cv2.CV_32F) for g in grey]))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (lap * mask).sum((1, 2)) / mask.sum((1, 2))

    with np.errstate(invalid="ignore", divide="ignore"):
        r = energy(pred) / energy(real)
    return np.where(np.isfinite(r), r, np.nan)


def au_rmse(pred: np.ndarray, real: np.ndarray, names: tuple[str, ...]) -> dict:
    """RMSE of AU intensities over the rows where both were measured: overall (all AUs of
    all rows), per AU name, and the number of rows."""
    ok = np.isfinite(pred).all(axis=1) & np.isfinite(real).all(axis=1)
    sq = (pred[ok].astype(np.float64) - real[ok]) ** 2
    per_au = np.sqrt(sq.mean(axis=0)) if ok.any() else np.full(len(names), np.nan)
    return {
        "rmse": float(np.sqrt(sq.mean())) if ok.any() else float("nan"),
        "per_au": dict(zip(names, per_au.tolist())),
        "n": int(ok.sum()),
    }


def intra_class(
    synth: np.ndarray, pairs: EvalPairs, targets: Measured, measured: Measured, names: tuple[str, ...]
) -> dict:
    """Table 1 (pixel MAE/RMSE by region and treatment) and Table 2 (AU RMSE) for the
    syntheses of `pairs` (one per pair, in pair order)."""
    real = pairs.targets[pairs.tgt]
    masks = {"mask": targets.masks[pairs.tgt], "mouth": targets.mouths[pairs.tgt]}
    out: dict = {"pixels": {}}
    for treatment in TREATMENTS:
        pred = CLAHE(synth) if treatment == "clahe" else synth
        for region in REGIONS:
            if region in masks:
                mask = masks[region]
                has = mask.any(axis=(1, 2))
                mae, rmse = pixel_errors(pred[has], real[has], mask[has])
            else:
                mae, rmse = pixel_errors(pred, real)
            out["pixels"][f"{region}/{treatment}"] = {"mae": _mean(mae), "rmse": _mean(rmse), "n": len(mae)}
    has = masks["mouth"].any(axis=(1, 2))
    out["mouth_sharpness"] = (
        float(np.nanmean(sharpness_ratio(synth[has], real[has], masks["mouth"][has]))) if has.any() else float("nan")
    )
    out["au"] = au_rmse(measured.aus, targets.aus[pairs.tgt], names)
    out["tracked"] = float(measured.found.mean())
    return out


def inter_class(pairs: EvalPairs, targets: Measured, measured: Measured, names: tuple[str, ...]) -> dict:
    """Table 3: AU RMSE of the syntheses against their (other person's) target frames."""
    return {"au": au_rmse(measured.aus, targets.aus[pairs.tgt], names), "tracked": float(measured.found.mean())}


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
