"""Speech -> head pose: a stochastic, causal model of how a speaker's head turns while
talking (yaw, pitch, roll in degrees, `actionunits.series.POSE_NAMES`), relative to the
photo's pose.

Per axis, a linear-Gaussian autoregressive process driven by prosody (ARX), at 25 fps:

    x_t = a1 x_{t-1} + a2 x_{t-2} + b . f_{t+lead} + c + sigma_t eps_t,
    log sigma_t = g . f_{t+lead} + g0,    x_0 = x_{-1} = 0,

with f the causal prosody features (`audio2au.prosody`). Real heads move weakly with
speech and lead the loudness by ~0.16 s (docs/results/2026-12-06-head-pose/), so most of
the motion is the noise; speech mainly sets how much of it there is (sigma). Interpretable,
stable (checked AR roots), cheap, and causal: `HeadMotionStream` gives the offline numbers
frame by frame as audio arrives. The output passes a tanh soft limit (`limit`, degrees)
that keeps the renderer's 2D warp in its safe range.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from actionunits.checkpoint import FORMAT_VERSION, CheckpointError, atomic_save, load, update_manifest
from actionunits.series import POSE_LIMITS
from audio2au.features import frame_count
from audio2au.prosody import FEATURE_NAMES, PITCH_WINDOW, ProsodyTracker, frame_measures, prosody, window_ends

__all__ = ["HeadMotion", "HeadMotionStream", "calibrate", "choose_regime", "clean_pose", "fit_head_motion", "prosody"]

KIND = "head_motion"
NO_REGIME = (1.0, 1.0, 1.0)  # hold gain 1: holds and moves alike
HOLD_SPEED = 5.0  # deg/s: a head turning slower than this holds its pose
MODEL_FPS = 25.0
AXES = 3


@dataclass
class HeadMotion:
    """Per axis (yaw, pitch, roll): ar (3, 2) = a1, a2; drive (3, F) = b; bias (3,) = c;
    log_sigma (3, F + 1) = g, g0; df (3,): the innovations' Student-t degrees of freedom
    (unit variance; heavy tails). `regime` (3,) = the noise's gain while the head holds, and
    the mean seconds of a hold and of a move (a two-state chain: real heads hold a pose, then
    turn; gain 1 turns it off). `lead`: frames of feature look-ahead it was fit with."""

    ar: np.ndarray
    drive: np.ndarray
    bias: np.ndarray
    log_sigma: np.ndarray
    df: np.ndarray
    lead: int = 0
    limit: tuple[float, float, float] = POSE_LIMITS
    info: dict = field(default_factory=dict)
    regime: np.ndarray = field(default_factory=lambda: np.array(NO_REGIME))

    def innovation(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, F) features -> mean and sigma (n, 3) of each step's innovation. Summed
        feature by feature (not a matrix product), so one frame or many give the same bits."""
        f = np.atleast_2d(np.asarray(features, np.float64))
        mean = np.broadcast_to(self.bias, (len(f), AXES)).copy()
        log_s = np.broadcast_to(self.log_sigma[:, -1], (len(f), AXES)).copy()
        for k in range(f.shape[1]):
            mean += f[:, k : k + 1] * self.drive[:, k]
            log_s += f[:, k : k + 1] * self.log_sigma[:, k]
        return mean, np.exp(log_s)

    def sample(
        self, wav: np.ndarray, fps: float, n_frames: int, rng: np.random.Generator, lead: int | None = None
    ) -> np.ndarray:
        """(n_frames, 3) float32 yaw, pitch, roll (degrees) at `fps` for 16 kHz mono `wav`,
        starting at 0 (the photo's pose). lead (default: the fitted one) is how many model
        frames ahead the head hears the speech; 0 is causal, as live streams it."""
        lead = _check_lead(self.lead if lead is None else lead)
        positions = np.arange(n_frames) * (MODEL_FPS / fps)
        needed = int(math.floor(positions[-1])) + 2 if n_frames else 0
        features = prosody(wav, MODEL_FPS, needed + lead)
        process = _Process(self)
        poses = np.stack([process.step(features[t + lead], rng) for t in range(needed)]) if needed else np.zeros((0, 3))
        return _resample(poses, positions)

    def stream(self, fps: float, rng: np.random.Generator, lead: int = 0) -> HeadMotionStream:
        """Live: the same model fed audio chunk by chunk (lead 0: the head cannot hear ahead)."""
        return HeadMotionStream(self, fps, rng, lead)

    def stationary_std(self, features: np.ndarray | None = None) -> np.ndarray:
        """(3,) std (deg, before the soft limit) of the process with the innovation sigma of
        `features` (RMS over its rows; default: the features' zero point)."""
        f = np.zeros((1, len(FEATURE_NAMES))) if features is None else features
        sigma = np.sqrt((self.innovation(f)[1] ** 2).mean(0))
        a1, a2 = self.ar[:, 0], self.ar[:, 1]
        gain = (1 - a2) / ((1 + a2) * ((1 - a2) ** 2 - a1**2))
        return sigma * np.sqrt(gain)

    def roots(self) -> np.ndarray:
        """(3, 2) moduli of the AR roots per axis: all < 1 for a stable process."""
        return np.array([np.abs(np.roots([1.0, -a1, -a2])) for a1, a2 in self.ar])

    def save(self, path: str | os.PathLike) -> Path:
        """float64 coefficients (a few dozen numbers) + the fit report + manifest entry."""
        path = atomic_save(
            {
                "format_version": FORMAT_VERSION,
                "kind": KIND,
                "fps": MODEL_FPS,
                "feature_names": list(FEATURE_NAMES),
                "lead": int(self.lead),
                "limit": [float(x) for x in self.limit],
                "info": self.info,
                **{name: torch.from_numpy(np.asarray(getattr(self, name), np.float64)) for name in _ARRAYS},
            },
            path,
        )
        update_manifest(path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> HeadMotion:
        """Load and check that it was fit on today's prosody features."""
        ckpt = load(path, KIND)
        if ckpt.get("fps") != MODEL_FPS or tuple(ckpt.get("feature_names", ())) != FEATURE_NAMES:
            raise CheckpointError(f"head motion model {path} was made for other prosody features; refit it")
        arrays = {name: ckpt[name].numpy() for name in _ARRAYS}
        model = cls(**arrays, lead=int(ckpt["lead"]), limit=tuple(ckpt["limit"]), info=dict(ckpt["info"]))
        for name, shape in _shapes().items():
            if getattr(model, name).shape != shape:
                raise CheckpointError(f"head motion model {path}: {name} has shape {getattr(model, name).shape}")
        return model


_ARRAYS = ("ar", "drive", "bias", "log_sigma", "df", "regime")


def _check_lead(lead: int) -> int:
    if int(lead) < 0:
        raise ValueError(f"lead must be >= 0 model frames, got {lead}")
    return int(lead)


def _shapes() -> dict[str, tuple[int, ...]]:
    f = len(FEATURE_NAMES)
    return {
        "ar": (AXES, 2),
        "drive": (AXES, f),
        "bias": (AXES,),
        "log_sigma": (AXES, f + 1),
        "df": (AXES,),
        "regime": (3,),
    }


class _Process:
    """The AR recursion and soft limit, one model frame at a time (offline and live alike)."""

    def __init__(self, model: HeadMotion) -> None:
        self.model = model
        self.limit = np.asarray(model.limit, np.float64)
        self.x1 = np.zeros(AXES)
        self.x2 = np.zeros(AXES)
        self.t = 0
        self.moving = True

    def step(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The next frame's pose (3,) in degrees; frame 0 is the photo's pose (0)."""
        if self.t > 0:
            gain, hold_s, move_s = self.model.regime
            if gain != 1.0 and rng.random() < 1.0 / ((move_s if self.moving else hold_s) * MODEL_FPS):
                self.moving = not self.moving
            mean, sigma = self.model.innovation(features)
            a = self.model.ar
            scale = sigma[0] * (1.0 if self.moving else gain)
            x = a[:, 0] * self.x1 + a[:, 1] * self.x2 + mean[0] + scale * unit_t(self.model.df, rng)
            self.x1, self.x2 = x, self.x1
        self.t += 1
        return self.limit * np.tanh(self.x1 / self.limit)


def unit_t(df: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(3,) Student-t draws of `df` degrees of freedom scaled to unit variance."""
    return rng.standard_t(df) * np.sqrt((df - 2) / df)


def _resample(poses: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of 25 fps poses at fractional model-frame `positions`."""
    k = np.floor(positions).astype(np.int64)
    w = (positions - k)[:, None]
    return _mix(poses[k], poses[np.minimum(k + 1, len(poses) - 1)], w)


def _mix(p0: np.ndarray, p1: np.ndarray, w: np.ndarray | float) -> np.ndarray:
    return (p0 * (1 - w) + p1 * w).astype(np.float32)


class HeadMotionStream:
    """`push(chunk)` of 16 kHz samples -> the pose frames (k, 3) at `fps` that became ready;
    `flush()` at the end -> the rest (every frame whose time falls inside the audio). With
    the same rng state and lead, the frames equal `HeadMotion.sample` on the whole audio.
    A frame is ready once the audio half a model frame past its features' time (plus
    `lead` model frames) has arrived: `latency_s`."""

    def __init__(self, model: HeadMotion, fps: float, rng: np.random.Generator, lead: int = 0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.model, self.fps, self.rng, self.lead = model, float(fps), rng, _check_lead(lead)
        self._tracker = ProsodyTracker(MODEL_FPS)
        self._process = _Process(model)
        self._buffer = np.zeros(0)
        self._offset = 0  # absolute index of _buffer[0]
        self._received = 0
        self._features: list[np.ndarray] = []  # model frames' features, from _feature_base on
        self._feature_base = 0
        self._poses: list[np.ndarray] = []  # model-rate poses from _pose_base on
        self._pose_base = 0
        self._emitted = 0
        self._closed = False

    @property
    def latency_s(self) -> float:
        """At most this long after a frame's time its last needed sample arrives (the
        features' half frame and lead, plus one model frame to interpolate from); add the
        chunk length on top."""
        return (self.lead + 1.5) / MODEL_FPS

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add 16 kHz samples ((n,) or (n, channels)); returns the frames that became ready."""
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one")
        samples = np.asarray(chunk, np.float64)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += len(samples)
        return self._emit(None)

    def flush(self) -> np.ndarray:
        """The remaining frames, hearing silence after the end of the audio."""
        self._closed = True
        return self._emit(frame_count(self._received, self.fps))

    def _emit(self, total: int | None) -> np.ndarray:
        out = []
        while total is None or self._emitted < total:
            pos = self._emitted * (MODEL_FPS / self.fps)
            k = int(math.floor(pos))
            need = k + 1 if pos > k else k  # last model frame this output frame reads
            if not self._ensure_poses(need + 1, final=total is not None):
                break
            p0 = self._poses[k - self._pose_base]
            out.append(_mix(p0, self._poses[need - self._pose_base], pos - k))
            self._emitted += 1
            drop = k - self._pose_base  # poses before k are never read again
            if drop > 0:
                del self._poses[:drop]
                self._pose_base += drop
        return np.array(out, np.float32).reshape(-1, AXES)

    def _ensure_poses(self, n: int, final: bool) -> bool:
        """Make model poses up to frame n - 1; False when the audio for them is not here yet."""
        while self._pose_base + len(self._poses) < n:
            t = self._pose_base + len(self._poses)
            if not self._ensure_features(t + self.lead + 1, final):
                return False
            self._poses.append(self._process.step(self._features[t + self.lead - self._feature_base], self.rng))
            drop = t + self.lead - self._feature_base
            if drop > 0:
                del self._features[:drop]
                self._feature_base += drop
        return True

    def _ensure_features(self, n: int, final: bool) -> bool:
        have = self._feature_base + len(self._features)
        if have >= n:
            return True
        ends = window_ends(have, n, MODEL_FPS)
        if not final:
            ends = ends[ends <= self._received]
        if len(ends):
            for row in frame_measures(self._buffer, ends, self._offset):
                self._features.append(self._tracker.step(*row))
            keep_from = int(window_ends(have + len(ends), have + len(ends) + 1, MODEL_FPS)[0]) - PITCH_WINDOW
            cut = min(max(0, keep_from - self._offset), len(self._buffer))
            self._buffer, self._offset = self._buffer[cut:], self._offset + cut
        return self._feature_base + len(self._features) >= n


def clean_pose(pose: np.ndarray, sigma: float = 1.2, max_gap: int = 5, min_run: int = 5) -> np.ndarray:
    """(n, 3) degrees, NaN where the tracker had no pose -> the same lightly smoothed (a
    Gaussian of `sigma` frames removes tracker jitter, keeps nods) and centred on the clip's
    mean: gaps of <= max_gap frames are interpolated, longer ones stay NaN and split runs
    (smoothed apart); runs shorter than min_run frames are dropped."""
    pose = np.asarray(pose, np.float64)
    valid = np.isfinite(pose).all(axis=1)
    out = np.full_like(pose, np.nan)
    if valid.sum() < min_run:
        return out
    t = np.arange(len(pose))
    filled = np.column_stack([np.interp(t, t[valid], pose[valid, j]) for j in range(pose.shape[1])])
    usable = valid.copy()
    for a, b in _runs(~valid):
        usable[a:b] = a > 0 and b < len(pose) and b - a <= max_gap
    for a, b in _runs(usable):
        if b - a >= min_run:
            out[a:b] = gaussian_filter1d(filled[a:b], sigma, axis=0, mode="nearest") if sigma > 0 else filled[a:b]
    return out - np.nanmean(out, axis=0) if np.isfinite(out).any() else out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fit_head_motion(
    clips: list[tuple[np.ndarray, np.ndarray, str]],
    lead: int = 4,
    speaker_weights: dict[str, float] | None = None,
    iterations: int = 3,
    limit: tuple[float, float, float] = POSE_LIMITS,
) -> tuple[HeadMotion, dict]:
    """Fit per axis by weighted least squares (speakers weighted equally, times
    `speaker_weights` by glob, first match; 0 leaves a speaker out), then log sigma by
    maximum likelihood on the residuals, then again with 1/sigma^2 weights. clips:
    (features (n, F) at 25 fps from `prosody`, pose (n, 3) from `clean_pose`, speaker).
    Returns the model and a report of the fit."""
    rows = {}
    for features, pose, speaker in clips:
        weight = speaker_weight(speaker, speaker_weights or {})
        x, y = _design(np.asarray(features, np.float64), np.asarray(pose, np.float64), lead)
        if weight > 0 and len(y):
            rows.setdefault(speaker, []).append((x, y, weight))
    if not rows:
        raise ValueError("no clip has enough tracked frames to fit head motion")
    x = np.concatenate([x for parts in rows.values() for x, _, _ in parts])
    y = np.concatenate([y for parts in rows.values() for _, y, _ in parts])
    n_spk = {s: sum(len(p[1]) for p in parts) for s, parts in rows.items()}
    w = np.concatenate([np.full(len(p[1]), p[2] / n_spk[s]) for s, parts in rows.items() for p in parts])
    f = x[:, 2 * AXES : -1]  # the features; x = [x_{t-1} (3), x_{t-2} (3), f (F), 1]
    n_feat = f.shape[1]
    ar, drive, bias, df = np.zeros((AXES, 2)), np.zeros((AXES, n_feat)), np.zeros(AXES), np.zeros(AXES)
    log_sigma = np.zeros((AXES, n_feat + 1))
    report: dict = {"lead": int(lead), "speakers": len(rows), "frames": int(len(y)), "axes": {}}
    z = np.column_stack([f, np.ones(len(f))])
    for j, axis in enumerate(("yaw", "pitch", "roll")):
        xa = np.column_stack([x[:, j], x[:, AXES + j], f, np.ones(len(f))])
        var = np.ones(len(y))
        for _ in range(iterations):
            coef = _wls(xa, y[:, j], w / var)
            resid = y[:, j] - xa @ coef
            gamma = _variance_fit(z, resid**2, w)
            var = np.exp(z @ gamma)
        ar[j], drive[j], bias[j], log_sigma[j] = coef[:2], coef[2:-1], coef[-1], gamma / 2
        df[j] = _t_degrees(resid / np.sqrt(var), w)
        base = _wls(xa[:, [0, 1, -1]], y[:, j], w / var)  # the same without prosody in the mean
        log_e2 = np.log(resid**2 + 1e-6)
        spread = np.cov(log_e2, np.log(var), aweights=w)
        report["axes"][axis] = {
            "ar": coef[:2].tolist(),
            "drive": dict(zip(FEATURE_NAMES, coef[2:-1].tolist())),
            "bias": float(coef[-1]),
            "log_sigma": dict(zip((*FEATURE_NAMES, "const"), (gamma / 2).tolist())),
            "df": float(df[j]),
            "residual_std_deg": float(np.sqrt(np.average(resid**2, weights=w))),
            "mean_r2_gain_from_prosody": float(
                1
                - np.average((y[:, j] - xa @ coef) ** 2, weights=w / var)
                / np.average((y[:, j] - xa[:, [0, 1, -1]] @ base) ** 2, weights=w / var)
            ),
            "log_variance_r2": float(spread[0, 1] ** 2 / (spread[0, 0] * spread[1, 1])),
        }
    model = HeadMotion(ar, drive, bias, log_sigma, df, int(lead), tuple(limit))
    report["roots"] = model.roots().tolist()
    report["stationary_std_deg"] = speech_silence_std(model, f)
    report["stable"] = bool((model.roots() < 1).all())
    if not report["stable"]:
        raise ValueError(f"the fitted head motion is unstable (AR root moduli {report['roots']})")
    model.info = report
    return model, report


def speech_silence_std(model: HeadMotion, features: np.ndarray) -> dict:
    """The model's stationary std per axis (deg) with the noise of speech and of silence frames."""
    speech = features[:, FEATURE_NAMES.index("speech")] > 0.5
    return {
        name: model.stationary_std(features[m]).tolist() if m.any() else None
        for name, m in (("speech", speech), ("silence", ~speech))
    }


def speaker_weight(speaker: str, weights: dict[str, float]) -> float:
    """A speaker's weight in the fit: the first glob of `weights` it matches, else 1."""
    return next((w for p, w in weights.items() if fnmatch(speaker, p)), 1.0)


def _design(features: np.ndarray, pose: np.ndarray, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows [x_{t-1}, x_{t-2}, f_{t+lead}, 1] -> x_t for every t with three tracked poses."""
    n = min(len(features) - lead, len(pose))
    if n < 3:
        return np.zeros((0, 2 * AXES + features.shape[1] + 1)), np.zeros((0, AXES))
    t = np.arange(2, n)
    x = np.column_stack([pose[t - 1], pose[t - 2], features[t + lead], np.ones(len(t))])
    ok = np.isfinite(x).all(axis=1) & np.isfinite(pose[t]).all(axis=1)
    return x[ok], pose[t][ok]


DF_GRID = np.r_[np.arange(2.2, 6.0, 0.2), np.arange(6.0, 31.0, 1.0)]


def _t_degrees(u: np.ndarray, w: np.ndarray) -> float:
    """The Student-t degrees of freedom (of DF_GRID) that make standardized residuals `u`
    most likely, the t scaled to their (unit) variance."""
    from scipy.stats import t

    def loglik(df: float) -> float:
        scale = np.sqrt((df - 2) / df)
        return float(np.average(t.logpdf(u / scale, df) - np.log(scale), weights=w))

    return float(max(DF_GRID, key=loglik))


def simulate(model: HeadMotion, features: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) poses of the model driven by a clip's model-rate `features` (its lead applied)."""
    process = _Process(model)
    at = np.minimum(np.arange(n) + model.lead, len(features) - 1)
    return np.stack([process.step(features[t], rng) for t in at])


def hold_share(pose: np.ndarray) -> float:
    """Share of frames (25 fps) whose head turns slower than HOLD_SPEED."""
    speed = np.linalg.norm(np.diff(pose, axis=0), axis=1) * MODEL_FPS
    speed = speed[np.isfinite(speed)]
    return float((speed < HOLD_SPEED).mean()) if len(speed) else float("nan")


def calibrate(model: HeadMotion, clips: list[tuple[np.ndarray, np.ndarray, str]], seeds: int = 3) -> dict:
    """Scale each axis's noise (in place) so that the model, driven by each training clip's
    features for the clip's length, moves as much within a clip as the real heads did
    (median over speakers of the within-clip std): a one-step-ahead fit does not pin the
    slow part of the motion, which short clips hold little of. Returns the ratios used and
    the hold share (real, and the model's before the scaling)."""
    real, simulated, holds = {}, {}, {}
    rng = np.random.default_rng(0)
    for features, pose, speaker in clips:
        ok = np.isfinite(pose).all(axis=1)
        if ok.sum() < 25:
            continue
        real.setdefault(speaker, []).append((pose[ok].std(axis=0), hold_share(pose)))
        for _ in range(seeds):
            sim = simulate(model, features, len(pose), rng)
            simulated.setdefault(speaker, []).append(sim[ok].std(axis=0))
            holds.setdefault(speaker, []).append(hold_share(sim))
    speakers = sorted(real)
    want = np.median([np.mean([r[0] for r in real[s]], axis=0) for s in speakers], axis=0)
    have = np.median([np.mean(simulated[s], axis=0) for s in speakers], axis=0)
    model.log_sigma[:, -1] += np.log(want / have)
    model.info["stationary_std_deg"] = speech_silence_std(model, np.concatenate([c[0] for c in clips]))
    return {
        "real_std": want.tolist(),
        "model_std": have.tolist(),
        "scale": (want / have).tolist(),
        "real_hold": float(np.median([np.nanmean([r[1] for r in real[s]]) for s in speakers])),
        "model_hold": float(np.median([np.nanmean(holds[s]) for s in speakers])),
    }


def choose_regime(model: HeadMotion, clips: list[tuple[np.ndarray, np.ndarray, str]], grid) -> dict:  # noqa: ANN001
    """Set (in place) the hold/move regime of `grid` ((gain, hold s, move s), ...) whose
    model, its noise calibrated, holds its pose as often as the real heads of `clips` do
    (median over speakers of the share of frames under HOLD_SPEED); returns each trial."""
    base = model.log_sigma.copy()
    trials = []
    for regime in grid:
        model.regime, model.log_sigma = np.array(regime, np.float64), base.copy()
        calibrate(model, clips)
        check = calibrate(model, clips)  # the scaled model: its hold share, and a last small rescale
        trials.append({"regime": list(regime), "real_hold": check["real_hold"], "model_hold": check["model_hold"]})
    best = min(trials, key=lambda t: abs(t["model_hold"] - t["real_hold"]))
    model.regime, model.log_sigma = np.array(best["regime"], np.float64), base.copy()
    return {"trials": trials, "chosen": best}


def _variance_fit(z: np.ndarray, e2: np.ndarray, w: np.ndarray) -> np.ndarray:
    """log sigma^2 = z @ gamma: the slopes from a regression of log e2 (robust to the
    heavy tails of head motion: a Gaussian likelihood let the few fast turns swamp the
    speech effect), the level moment-matched so the mean of e2 / sigma^2 is 1."""
    gamma = _wls(z, np.log(e2 + 1e-6), w)
    gamma[-1] += np.log(np.average(e2 * np.exp(-z @ gamma), weights=w))
    return gamma


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    return np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
