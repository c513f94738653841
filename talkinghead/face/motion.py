"""AU -> face motion: a linear map from a change of the 27 AUs to 3D offsets of the 478
face-mesh landmarks, learned from this project's own tracked video.

ARKit-style AUs are morph-target weights, so a linear model is the natural one: each AU
owns one offset field (`basis[k]`), and a face with AUs `a` is the rest face plus
`sum_k a_k * basis[k]`. Offsets live in the tracker's pose-free head frame (x towards the
subject's left, y down, inter-ocular distance 1), so one model serves every face size and
head pose; the renderer maps them into a photo's pose.

Fitting (`fit_motion`), per clip: head pose removed (Procrustes on rigid points, the
tracker's `remove_pose`), then landmarks and AUs centred on the clip's own mean (each clip
has its own rest face), then ridge regression from AU deviations to landmark deviations.
Speakers are weighted equally (GRID s1 would otherwise be 70 % of the frames), and the
ridge strength is chosen by leave-speakers-out cross-validation, whose per-region error
against the zero-motion baseline is the model's report.

Everything the fit needs is a sum over frames (`SpeakerStats`), so clips stream from disk
and cross-validation costs no second pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from actionunits import AU_NAMES
from actionunits.checkpoint import FORMAT_VERSION, CheckpointError, atomic_save, load, update_manifest
from talkinghead.face.au_tracker import Calibration, remove_pose, tracker_version
from talkinghead.face.landmarks import N_LANDMARKS

KIND = "motion"
MOTION_FILE = "motion.pt"

# Landmark groups the report scores separately (MediaPipe face-mesh indices).
REGIONS: dict[str, tuple[int, ...]] = {
    "lips": (
        0,
        13,
        14,
        17,
        37,
        39,
        40,
        61,
        78,
        80,
        81,
        82,
        84,
        87,
        88,
        91,
        95,
        146,
        178,
        181,
        185,
        191,
        267,
        269,
        270,
        291,
        308,
        310,
        311,
        312,
        314,
        317,
        318,
        321,
        324,
        375,
        402,
        405,
        409,
        415,
    ),
    "jaw": (32, 140, 148, 149, 150, 152, 169, 170, 171, 175, 176, 199, 200, 208, 377, 378, 379, 396, 400, 428),
    "eyes": (
        7,
        33,
        133,
        144,
        145,
        153,
        154,
        155,
        157,
        158,
        159,
        160,
        161,
        163,
        173,
        246,
        249,
        263,
        362,
        373,
        374,
        380,
        381,
        382,
        384,
        385,
        386,
        387,
        388,
        390,
        398,
        466,
    ),
    "brows": (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
}


@dataclass
class MotionModel:
    """basis: (n_aus, 478, 3) landmark offset per unit of each AU, pose-free head units."""

    basis: np.ndarray
    au_names: tuple[str, ...] = AU_NAMES
    tracker: str = ""  # tracker_version() of the AU definitions it was fit with
    info: dict = field(default_factory=dict)  # ridge strength, data, cross-validation report

    def offsets(self, delta: np.ndarray) -> np.ndarray:
        """(..., n_aus) AU changes -> (..., 478, 3) landmark offsets (pose-free units)."""
        d = np.asarray(delta, np.float32)
        flat = self.basis.reshape(len(self.au_names), -1)
        return (d @ flat).reshape(*d.shape[:-1], N_LANDMARKS, 3)

    def save(self, path: str | os.PathLike) -> Path:
        """fp16 basis (ample: offsets are <= ~0.5 inter-ocular units) + manifest entry."""
        path = atomic_save(
            {
                "format_version": FORMAT_VERSION,
                "kind": KIND,
                "au_names": list(self.au_names),
                "tracker": self.tracker,
                "info": self.info,
                "basis": torch.from_numpy(self.basis.astype(np.float16)),
            },
            path,
        )
        update_manifest(path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, check_tracker: bool = True) -> MotionModel:
        """Load and check that it was fit with today's AU tracker (its AU meanings)."""
        ckpt = load(path, KIND)
        model = cls(ckpt["basis"].float().numpy(), tuple(ckpt["au_names"]), ckpt["tracker"], dict(ckpt["info"]))
        if model.basis.shape != (len(model.au_names), N_LANDMARKS, 3):
            raise CheckpointError(f"motion model {path} has a basis of shape {tuple(model.basis.shape)}")
        if check_tracker and model.tracker != tracker_version():
            raise CheckpointError(
                f"motion model {path} was fit for another AU tracker version ({model.tracker}, "
                f"now {tracker_version()}); refit it with `talkinghead train motion`"
            )
        return model


@dataclass
class SpeakerStats:
    """Weighted sums over one speaker's frames (deviations from each clip's mean), enough
    to fit a ridge map and score any map on this speaker."""

    xx: np.ndarray  # (n_aus, n_aus)
    xy: np.ndarray  # (n_aus, 478*3)
    yy: np.ndarray  # (478*3,) sum of squared landmark deviations per coordinate
    frames: int = 0

    @classmethod
    def empty(cls, n_aus: int) -> SpeakerStats:
        d = N_LANDMARKS * 3
        return cls(np.zeros((n_aus, n_aus)), np.zeros((n_aus, d)), np.zeros(d))

    def add_clip(self, aus: np.ndarray, pose_free: np.ndarray) -> None:
        x = aus - aus.mean(0)
        y = (pose_free - pose_free.mean(0)).reshape(len(pose_free), -1)
        self.xx += x.T @ x
        self.xy += x.T @ y
        self.yy += (y**2).sum(0)
        self.frames += len(x)

    def scaled(self, w: float) -> SpeakerStats:
        return SpeakerStats(self.xx * w, self.xy * w, self.yy * w, self.frames)


def clip_pose_free(landmarks: np.ndarray, valid: np.ndarray, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Pose-free landmarks of a clip's usable frames and the mask that chose them."""
    ok = valid & np.isfinite(landmarks).all(axis=(1, 2))
    if not ok.any():
        return np.zeros((0, N_LANDMARKS, 3)), ok
    pose_free, _ = remove_pose(landmarks[ok], calibration.reference)
    return pose_free, ok


def solve(stats: SpeakerStats, ridge: float) -> np.ndarray:
    """Ridge solution (n_aus, 478*3) from summed (weighted) stats."""
    n = stats.xx.shape[0]
    return np.linalg.solve(stats.xx + ridge * np.eye(n), stats.xy)


def squared_error(stats: SpeakerStats, m: np.ndarray) -> np.ndarray:
    """Per-coordinate summed squared error of the map `m` on these stats, (478*3,)."""
    return stats.yy - 2 * (m * stats.xy).sum(0) + (m * (stats.xx @ m)).sum(0)


def total(stats: list[SpeakerStats]) -> SpeakerStats:
    out = SpeakerStats.empty(stats[0].xx.shape[0])
    for s in stats:
        out.xx += s.xx
        out.xy += s.xy
        out.yy += s.yy
        out.frames += s.frames
    return out


def region_rmse(sq: np.ndarray, weight: float) -> dict[str, float]:
    """RMS landmark error (Euclidean, pose-free units) per region from per-coordinate sums."""
    per_point = sq.reshape(N_LANDMARKS, 3).sum(1) / max(weight, 1e-12)
    out = {name: float(np.sqrt(per_point[list(idx)].mean())) for name, idx in REGIONS.items()}
    out["all"] = float(np.sqrt(per_point[:468].mean()))
    return out


def cross_validate(
    per_speaker: dict[str, SpeakerStats], ridges: list[float], folds: int, seed: int = 0
) -> tuple[float, dict]:
    """Leave-speakers-out CV: pick the ridge with the lowest held-out error; report the
    per-region RMSE of that choice and of zero motion, speakers weighted equally."""
    names = sorted(per_speaker)
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % folds for k, i in enumerate(order)}
    balanced = {n: s.scaled(1.0 / max(s.frames, 1)) for n, s in per_speaker.items()}
    errors = {r: np.zeros(N_LANDMARKS * 3) for r in ridges}
    zero = np.zeros(N_LANDMARKS * 3)
    for k in range(folds):
        train = [balanced[n] for n in names if fold_of[n] != k]
        held = [balanced[n] for n in names if fold_of[n] == k]
        if not train or not held:
            continue
        t, h = total(train), total(held)
        for r in ridges:
            errors[r] += squared_error(h, solve(t, r))
        zero += h.yy
    weight = float(len(names))  # every speaker's frames sum to weight 1
    best = min(ridges, key=lambda r: errors[r].sum())
    report = {
        "ridge": best,
        "speakers": len(names),
        "folds": folds,
        "frames": int(sum(s.frames for s in per_speaker.values())),
        "heldout_rmse": region_rmse(errors[best], weight),
        "zero_motion_rmse": region_rmse(zero, weight),
        "ridge_scores": {str(r): float(np.sqrt(errors[r].sum() / weight / N_LANDMARKS)) for r in ridges},
    }
    return best, report


def fit_motion(
    per_speaker: dict[str, SpeakerStats], ridges: list[float], folds: int = 5, au_names: tuple[str, ...] = AU_NAMES
) -> MotionModel:
    """Choose the ridge by leave-speakers-out CV, then fit on all speakers (equal weight)."""
    if len(per_speaker) < 2:
        raise ValueError(f"fitting the motion model needs clips of at least 2 speakers, got {len(per_speaker)}")
    best, report = cross_validate(per_speaker, ridges, min(folds, len(per_speaker)))
    all_stats = total([s.scaled(1.0 / max(s.frames, 1)) for s in per_speaker.values()])
    m = solve(all_stats, best)
    return MotionModel(
        m.reshape(len(au_names), N_LANDMARKS, 3).astype(np.float32), tuple(au_names), tracker_version(), report
    )
