"""Head-pose statistics of the prepared clips: groundwork for speech-driven head motion.

Rerun (from the repository root, project venv, numpy only, ~2-4 min on 2 busy cores):

    nice -n 15 python docs/results/2026-12-06-head-pose/head_pose_stats.py \
        [--data /work/prepared/target] [--grid-s1-every 15] [--thevals 3]

Pose per frame: similarity fit (talkinghead.face.au_tracker._umeyama, the tracker's own fit)
of the tracker's RIGID points (forehead, nose bridge, eye corners, temples: points the jaw
does not move) onto Calibration.load().reference. The fitted rotation maps the image into
the reference head; its transpose (reference -> image) is turned into yaw/pitch/roll with
thevals' own `_euler` (imported from /work/shared/tools/thevals.py, so the axis conventions
are the yardstick's). Frames without a face or whose rigid fit residual exceeds the
tracker's MAX_RIGID_RESIDUAL are invalid; gaps of <= 5 frames are linearly interpolated,
longer ones stay out of every statistic.

Smoothing: "raw" speeds are thevals' definition (mean |frame difference| * fps per axis, no
smoothing); "smoothed" ones use a Gaussian of sigma 1 frame (40 ms, 5 taps) on each angle
before differencing - light enough to keep nods (0.2-0.5 s) but removing tracker jitter.
Mean angular speed = mean over the three axes of the per-axis mean speed (the issue's
"mean angular speed"); speed3d = |(d yaw, d pitch, d roll)| * fps per frame.

Writes per_clip.csv and summary.json next to this file only when --write is given (the
results folder keeps just the script and README.md by default); prints the tables.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, "/work/shared/tools")

import thevals  # noqa: E402  (only numpy at import time; gives _euler, _kabsch, RIGID_LMS)

from audio2au.features import SAMPLE_RATE, load_audio  # noqa: E402
from audio2au.frame_measures import frame_rms_db, speech_frames  # noqa: E402
from talkinghead.evaluation.heldout import DEFAULT_SPEAKERS as HELD_OUT  # noqa: E402
from talkinghead.face.au_tracker import MAX_RIGID_RESIDUAL, RIGID, Calibration, _umeyama  # noqa: E402

# Lab corpora (acted sentences / silent expressions in a studio) kept apart from web/TV.
LAB = ("cremad_*", "vidtimit_*", "expressions_silent__*")
LAGS = np.arange(-10, 11)  # lag k pairs head[t + k] with audio[t]: k > 0 = head follows sound
MAX_GAP = 5
SIGMA = 1.0
BANDS = ((0.0, 0.5), (0.5, 2.0), (2.0, 99.0))
MIN_SILENCE = 12  # frames of silence a clip needs to count in the silence statistics


def held_out(speaker: str) -> bool:
    return any(fnmatch.fnmatch(speaker, p) for p in HELD_OUT)


def group_of(speaker: str) -> str:
    if speaker.startswith("grid_"):
        return "GRID"
    if speaker.startswith("lrs2_"):
        return "LRS2"
    if any(fnmatch.fnmatch(speaker, p) for p in LAB):
        return "lab"
    return "web/TV"


# ----------------------------------------------------------------------------- pose
def runs(mask: np.ndarray):
    """(start, stop) of the True runs."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fill_short_gaps(x: np.ndarray, valid: np.ndarray, max_gap: int = MAX_GAP):
    """Interpolate gaps of <= max_gap frames between valid frames; returns (x, usable)."""
    usable = valid.copy()
    if not valid.any():
        return x, usable
    t = np.arange(len(x))
    out = x.copy()
    for a, b in runs(~valid):
        if a > 0 and b < len(x) and b - a <= max_gap:
            usable[a:b] = True
    fill = usable & ~valid
    for j in range(x.shape[1]):
        out[fill, j] = np.interp(t[fill], t[valid], x[valid, j])
    return out, usable


def gauss_smooth(x: np.ndarray, usable: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """Gaussian smoothing per column inside each usable run (reflected at run edges)."""
    r = int(np.ceil(2 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    out = np.full_like(x, np.nan)
    for a, b in runs(usable):
        seg = x[a:b]
        if b - a <= r:
            out[a:b] = seg
            continue
        pad = np.pad(seg, ((r, r), (0, 0)), mode="reflect")
        for j in range(x.shape[1]):
            out[a:b, j] = np.convolve(pad[:, j], k, mode="valid")
    return out


def pose_series(lm: np.ndarray, reference: np.ndarray):
    """Per frame: angles (n,3) yaw/pitch/roll deg, translation (n,2) in eye-distance units
    (rigid centroid, image plane), log-size (n,) (100*ln of head size re clip median = %),
    validity, rigid residual; plus thevals' own method on the same landmarks (per-clip mean
    shape of its RIGID_LMS, Kabsch, no scale)."""
    n = len(lm)
    src = lm[:, list(RIGID)].astype(np.float64)
    ok = np.isfinite(src).all(axis=(1, 2))
    ang = np.full((n, 3), np.nan)
    trans = np.full((n, 2), np.nan)
    logsize = np.full(n, np.nan)
    resid = np.full(n, np.nan)
    if ok.sum() < 10:
        return ang, trans, logsize, ok & False, resid, np.full((n, 3), np.nan)
    scale, rot, tr = _umeyama(src[ok], reference)
    fitted = scale[:, None, None] * np.einsum("nde,nke->nkd", rot, src[ok]) + tr[:, None]
    resid[ok] = np.sqrt(((fitted - reference) ** 2).sum(-1).mean(-1))
    ang[ok] = [thevals._euler(r.T) for r in rot]
    eye = np.linalg.norm(lm[:, 33, :2] - lm[:, 263, :2], axis=1)
    eye_med = np.nanmedian(eye[ok])
    trans[ok] = src[ok].mean(1)[:, :2] / eye_med
    size = 1.0 / scale
    logsize[ok] = 100 * np.log(size / np.median(size))
    valid = ok & (resid < MAX_RIGID_RESIDUAL)
    # thevals' own reduction on these landmarks (its rigid set, per-clip mean shape)
    pts = lm[:, thevals.RIGID_LMS].astype(np.float64)
    good = valid & np.isfinite(pts).all(axis=(1, 2))
    cen = pts[good] - pts[good].mean(1, keepdims=True)
    ref = cen[0]
    for _ in range(2):
        ref = np.mean([(thevals._kabsch(ref, c).T @ c.T).T for c in cen], axis=0)
    tv = np.full((n, 3), np.nan)
    tv[good] = [thevals._euler(thevals._kabsch(ref, c)) for c in cen]
    return ang, trans, logsize, valid, resid, tv


def axis_speed(a: np.ndarray, fps: float) -> np.ndarray:
    """thevals: mean |frame difference| * fps per axis (pairs with both frames valid)."""
    return np.nanmean(np.abs(np.diff(a, axis=0)), axis=0) * fps


# ----------------------------------------------------------------------------- audio
def pitch_nccf(wav: np.ndarray, fps: float, n: int, fmin=60.0, fmax=400.0, win=1024, thresh=0.6):
    """F0 (Hz) and voicing per video frame: normalised autocorrelation (FFT) of a 64 ms
    Hann-less window centred on each frame; voiced when the best normalised peak in
    [fmin, fmax] exceeds `thresh` (YIN-like, numpy only; cross-checked with librosa.pyin)."""
    centers = np.rint((np.arange(n) + 0.5) * SAMPLE_RATE / fps).astype(int)
    pad = np.zeros(len(wav) + 2 * win)
    pad[win : win + len(wav)] = wav
    idx = centers[:, None] + win - win // 2 + np.arange(win)[None]
    idx = np.clip(idx, 0, len(pad) - 1)
    fr = pad[idx]
    fr = fr - fr.mean(1, keepdims=True)
    spec = np.fft.rfft(fr, 2 * win)
    acf = np.fft.irfft(np.abs(spec) ** 2)[:, :win]
    # normalise by the energy of the overlapping parts (unbiased NCCF approximation)
    e = np.cumsum(fr**2, axis=1)
    tot = e[:, -1:]
    lags = np.arange(win)
    e_head = np.concatenate([np.zeros((n, 1)), e[:, :-1]], axis=1)  # energy of fr[:lag]
    e_tail = tot - e_head  # energy of fr[lag:]
    e_first = e[:, ::-1]  # energy of fr[:win-lag] = e[win-lag-1]
    denom = np.sqrt(np.maximum(e_first * e_tail, 1e-12))
    nccf = acf / denom
    lo, hi = int(SAMPLE_RATE / fmax), int(SAMPLE_RATE / fmin)
    seg = nccf[:, lo : hi + 1]
    best = seg.argmax(1)
    peak = seg[np.arange(n), best]
    lag = (best + lo).astype(float)
    # parabolic refinement
    b = np.clip(best, 1, seg.shape[1] - 2)
    y0, y1, y2 = seg[np.arange(n), b - 1], seg[np.arange(n), b], seg[np.arange(n), b + 1]
    den = y0 - 2 * y1 + y2
    lag = np.where(np.abs(den) > 1e-9, b + lo + 0.5 * (y0 - y2) / np.where(den == 0, 1, den), lag)
    f0 = SAMPLE_RATE / np.clip(lag, lo, hi)
    voiced = (peak > thresh) & (tot[:, 0] > 1e-6)
    del lags
    return f0, voiced


def lag_corr(head: np.ndarray, aud: np.ndarray, lags=LAGS, min_pairs=20) -> np.ndarray:
    """r(k) = Pearson(head[t+k], aud[t]) over pairs where both are finite."""
    out = np.full(len(lags), np.nan)
    n = min(len(head), len(aud))
    for i, k in enumerate(lags):
        if k >= 0:
            h, a = head[k:n], aud[: n - k]
        else:
            h, a = head[: n + k], aud[-k:n]
        m = np.isfinite(h) & np.isfinite(a)
        if m.sum() < min_pairs:
            continue
        hh, aa = h[m] - h[m].mean(), a[m] - a[m].mean()
        d = np.sqrt((hh**2).sum() * (aa**2).sum())
        out[i] = (hh * aa).sum() / d if d > 0 else np.nan
    return out


def movavg(x: np.ndarray, width: int = 25) -> np.ndarray:
    """Centred NaN-aware moving average (width frames)."""
    m = np.isfinite(x)
    k = np.ones(width)
    num = np.convolve(np.where(m, x, 0.0), k, mode="same")
    den = np.convolve(m.astype(float), k, mode="same")
    out = np.where(den >= width / 2, num / np.maximum(den, 1), np.nan)
    return out


def audio_features(path: Path, fps: float, n: int):
    wav = load_audio(path).astype(np.float64)
    rms = frame_rms_db(wav, fps, n)[:, 0]
    speech = speech_frames(rms, fps)
    f0, voiced = pitch_nccf(wav, fps, n)
    voiced &= speech
    st = np.full(n, np.nan)
    if voiced.sum() >= 5:
        st[voiced] = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
    return rms, speech, st, wav


# ----------------------------------------------------------------------------- spectra
def half_life(x: np.ndarray, fps: float) -> float:
    """First lag (s) where the autocorrelation of the mean-removed series falls below 0.5."""
    x = x - x.mean()
    v = (x**2).sum()
    if v <= 0:
        return np.nan
    for k in range(1, len(x) // 2):
        if (x[:-k] * x[k:]).sum() / v < 0.5:
            return k / fps
    return np.nan  # longer than half the clip


def band_split(x: np.ndarray, fps: float) -> list[np.ndarray]:
    """Linear-detrended series split into the BANDS by FFT masking (sum = detrended x)."""
    t = np.arange(len(x))
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / fps)
    return [np.fft.irfft(np.where((f >= lo) & (f < hi), spec, 0), len(x)) for lo, hi in BANDS]


def band_shares(x: np.ndarray, fps: float) -> np.ndarray:
    """Share of (detrended, Hann-windowed periodogram) power in each band, DC excluded."""
    t = np.arange(len(x))
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fps)
    p, f = p[1:], f[1:]
    tot = p.sum()
    return np.array([p[(f >= lo) & (f < hi)].sum() / tot if tot > 0 else np.nan for lo, hi in BANDS])


# ----------------------------------------------------------------------------- main
def analyse(clip: dict, data: Path, reference: np.ndarray) -> dict | None:
    d = data / "clips" / clip["clip"]
    fps = float(clip["fps"])
    lm = np.load(d / "landmarks.npy")
    n = len(lm)
    ang, trans, logsize, valid, resid, tv = pose_series(lm, reference)
    if valid.sum() < 25:
        return None
    x = np.column_stack([ang, trans, logsize])
    x, usable = fill_short_gaps(x, valid)
    x[~usable] = np.nan
    ang, trans, logsize = x[:, :3], x[:, 3:5], x[:, 5]
    sm = gauss_smooth(np.nan_to_num(ang), usable)
    sm[~usable] = np.nan
    raw_speed = axis_speed(ang, fps)
    sm_speed = axis_speed(sm, fps)
    v3 = np.full(n, np.nan)  # per-frame 3D angular speed (smoothed), centred difference
    g = np.gradient(np.nan_to_num(sm), axis=0) * fps
    v3[usable] = np.linalg.norm(g[usable], axis=1)
    for a, b in runs(usable):  # gradient across a run boundary is meaningless
        v3[a], v3[b - 1] = np.nan, np.nan
    rec = {
        "clip": clip["clip"],
        "speaker": clip["speaker"],
        "group": group_of(clip["speaker"]),
        "held_out": held_out(clip["speaker"]),
        "n_frames": n,
        "seconds": n / fps,
        "valid_frac": float(valid.mean()),
        "resid_med": float(np.nanmedian(resid)),
    }
    std = np.nanstd(ang, axis=0)
    for i, ax in enumerate(("yaw", "pitch", "roll")):
        rec[f"{ax}_std"] = std[i]
        rec[f"{ax}_speed_raw"] = raw_speed[i]
        rec[f"{ax}_speed"] = sm_speed[i]
    rec["rot_std_mean"] = std.mean()
    rec["speed_raw_mean"] = raw_speed.mean()
    rec["speed_mean"] = sm_speed.mean()
    rec["speed3d_mean"] = np.nanmean(v3)
    tstd = np.nanstd(trans, axis=0)
    rec["tx_std"], rec["ty_std"] = tstd  # eye-distance units
    rec["size_std_pct"] = np.nanstd(logsize)
    rec["nose_shift_std_eye"] = float(
        np.linalg.norm(np.nanstd(lm[usable, 1, :2], axis=0))
        / np.nanmedian(np.linalg.norm(lm[:, 33, :2] - lm[:, 263, :2], axis=1))
    )
    tvstd = np.nanstd(tv, axis=0)
    rec["tv_rot_std_mean"] = tvstd.mean()
    rec["tv_speed_raw_mean"] = axis_speed(tv, fps).mean()
    # spectra / time scales: longest usable run of >= 100 frames (4 s)
    best = max(runs(usable), key=lambda r: r[1] - r[0])
    a0, b0 = best
    if b0 - a0 >= 100:
        for i, ax in enumerate(("yaw", "pitch", "roll")):
            rec[f"{ax}_halflife_s"] = half_life(ang[a0:b0, i], fps)
            sh = band_shares(ang[a0:b0, i], fps)
            for (lo, hi), s in zip(BANDS, sh):
                rec[f"{ax}_pow_{lo}-{hi}"] = s
    rec["_v3"] = v3
    rec["_usable"] = usable
    rec["_ang"] = ang
    rec["_fps"] = fps
    # audio
    if clip.get("audio") and (d / clip["audio"]).is_file():
        rms, speech, st, _ = audio_features(d / clip["audio"], fps, n)
        rec["_rms"], rec["_speech"], rec["_st"] = rms, speech, st
        rec["speech_frac"] = float(speech.mean())
        rec["voiced_frac"] = float(np.isfinite(st).mean())
        sp, si = speech & usable & np.isfinite(v3), ~speech & usable & np.isfinite(v3)
        rec["speed3d_speech"] = float(v3[sp].mean()) if sp.sum() >= MIN_SILENCE else np.nan
        rec["speed3d_silence"] = float(v3[si].mean()) if si.sum() >= MIN_SILENCE else np.nan
        if b0 - a0 >= 100:  # band power in speech vs silence frames (longest run)
            for i, ax in enumerate(("yaw", "pitch", "roll")):
                parts = band_split(ang[a0:b0, i], fps)
                spm = speech[a0:b0]
                for tag, m in (("speech", spm), ("silence", ~spm)):
                    if m.sum() >= MIN_SILENCE:
                        ms = np.array([(p[m] ** 2).mean() for p in parts])
                        for (lo, hi), s in zip(BANDS, ms / ms.sum()):
                            rec[f"{ax}_{tag}_pow_{lo}-{hi}"] = s
    return rec


def speaker_table(recs: list[dict], keys: list[str]) -> dict[str, dict]:
    """Per speaker: mean of each key over the speaker's clips."""
    by = {}
    for r in recs:
        by.setdefault(r["speaker"], []).append(r)
    out = {}
    for spk, rs in by.items():
        row = {"group": rs[0]["group"], "held_out": rs[0]["held_out"], "n_clips": len(rs)}
        for k in keys:
            vals = [r[k] for r in rs if k in r and r[k] is not None and np.isfinite(r[k])]
            row[k] = float(np.mean(vals)) if vals else np.nan
        out[spk] = row
    return out


def fmt_stats(vals) -> str:
    v = np.array([x for x in vals if np.isfinite(x)])
    if not len(v):
        return "-"
    return f"{np.median(v):.2f} [{np.percentile(v, 25):.2f}-{np.percentile(v, 75):.2f}] ({v.min():.2f}-{v.max():.2f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/prepared/target")
    ap.add_argument("--grid-s1-every", type=int, default=15, help="use every Nth grid_s1 clip (900 clips, one speaker)")
    ap.add_argument(
        "--thevals",
        type=int,
        default=0,
        help="check N (<= 5) held-out clips against thevals.py pose on their raw videos",
    )
    ap.add_argument("--videos", default="/work/shared/data/video", help="raw videos for the thevals check")
    ap.add_argument("--write", metavar="DIR", help="also write per_clip.csv / summary.json to DIR")
    args = ap.parse_args(argv)
    data = Path(args.data)
    t0 = time.time()
    reference = Calibration.load().reference
    with open(data / "clips.csv") as f:
        clips = list(csv.DictReader(f))
    grid_s1 = [c for c in clips if c["speaker"] == "grid_s1"]
    keep = set(c["clip"] for c in grid_s1[:: args.grid_s1_every])
    clips = [c for c in clips if c["speaker"] != "grid_s1" or c["clip"] in keep]
    recs = []
    for c in clips:
        r = analyse(c, data, reference)
        if r is not None:
            recs.append(r)
    print(f"# {len(recs)} clips analysed ({len(clips)} selected) in {time.time() - t0:.0f} s", file=sys.stderr)

    # ---------------- speech relation: own audio vs another speaker's audio (mismatch)
    aud = [r for r in recs if "_rms" in r and r["speech_frac"] > 0.2]
    rng = np.random.default_rng(0)
    for r in aud:
        others = [o for o in aud if o["speaker"] != r["speaker"]]
        longer = [o for o in others if len(o["_rms"]) >= len(r["_rms"])]
        partner = (longer or others)[rng.integers(len(longer or others))]
        v3 = r["_v3"]
        n = min(len(v3), len(partner["_rms"]))
        r["r_rms"] = lag_corr(v3, r["_rms"])
        r["r_pitch"] = lag_corr(v3, r["_st"])
        r["r_rms_mis"] = lag_corr(v3[:n], partner["_rms"][:n])
        r["r_pitch_mis"] = lag_corr(v3[:n], partner["_st"][:n])
        for k in ("r_rms", "r_pitch", "r_rms_mis", "r_pitch_mis"):
            curve = r[k]
            r[k + "_0"] = curve[LAGS == 0][0]
            r[k + "_best"] = np.nanmax(np.abs(curve)) if np.isfinite(curve).any() else np.nan
            r[k + "_lead4"] = curve[LAGS == -4][0]  # head 4 frames (160 ms) before the sound
        # phrase level: 1 s moving averages of head speed and of loudness, lag 0
        r["r_rms_1s"] = lag_corr(movavg(v3), movavg(r["_rms"]), lags=[0])[0]
        r["r_rms_1s_mis"] = lag_corr(movavg(v3[:n]), movavg(partner["_rms"][:n]), lags=[0])[0]

    scalar = [k for k in recs[0] if not k.startswith("_") and isinstance(recs[0][k], (float, np.floating))]
    extra = sorted(
        {
            k
            for r in recs
            for k in r
            if not k.startswith("_") and k not in scalar and isinstance(r[k], (float, np.floating))
        }
    )
    keys = scalar + extra
    spk = speaker_table(recs, keys)

    def groups():
        yield "GRID (studio)", lambda s: s["group"] == "GRID"
        yield "LRS2 (BBC)", lambda s: s["group"] == "LRS2"
        yield "web/TV", lambda s: s["group"] == "web/TV"
        yield "lab (CREMA-D, VidTIMIT, silent expr.)", lambda s: s["group"] == "lab"
        yield "held-out web-style (LRS2+web)", lambda s: s["held_out"] and s["group"] in ("LRS2", "web/TV")
        yield "train web-style (LRS2+web)", lambda s: not s["held_out"] and s["group"] in ("LRS2", "web/TV")
        yield "held-out GRID", lambda s: s["held_out"] and s["group"] == "GRID"

    summary = {}

    def table(title, cols, note=""):
        print(f"\n### {title}\n")
        if note:
            print(note + "\n")
        print("| group | speakers | " + " | ".join(cols) + " |")
        print("|---|---|" + "---|" * len(cols))
        for name, sel in groups():
            rows = [s for s in spk.values() if sel(s)]
            if not rows:
                continue
            cells = []
            for c in cols:
                vals = [s[c] for s in rows if np.isfinite(s.get(c, np.nan))]
                cells.append(fmt_stats(vals))
                summary.setdefault(title, {}).setdefault(name, {})[c] = float(np.median(vals)) if vals else None
            n_with = max(sum(np.isfinite(s.get(c, np.nan)) for s in rows) for c in cols)
            print(f"| {name} | {n_with} | " + " | ".join(cells) + " |")

    note = "Cells: median [quartiles] (min-max) over speakers (a speaker = mean of its clips)."
    table(
        "Rotation std (deg) and mean angular speed (deg/s)",
        ["rot_std_mean", "yaw_std", "pitch_std", "roll_std", "speed_raw_mean", "speed_mean", "speed3d_mean"],
        note,
    )
    table(
        "Translation / scale",
        ["tx_std", "ty_std", "nose_shift_std_eye", "size_std_pct"],
        "tx/ty: std of the rigid-point centroid in eye-distance units (outer eye corners); size: std of head size, %.",
    )
    table(
        "Cross-check: thevals' reduction on the same landmarks",
        ["rot_std_mean", "tv_rot_std_mean", "speed_raw_mean", "tv_speed_raw_mean"],
    )
    table(
        "Speech relation: corr(head speed3d, audio) at lag 0 and best |r| over lags -10..10",
        [
            "r_rms_0",
            "r_rms_mis_0",
            "r_rms_best",
            "r_rms_mis_best",
            "r_pitch_0",
            "r_pitch_mis_0",
            "r_pitch_best",
            "r_pitch_mis_best",
        ],
        "Clips with >= 20 % speech; _mis = the same head with another speaker's clip's audio (equal length).",
    )
    table(
        "Speech relation, robust summaries",
        ["r_rms_lead4", "r_rms_mis_lead4", "r_pitch_lead4", "r_pitch_mis_lead4", "r_rms_1s", "r_rms_1s_mis"],
        "_lead4: r at lag -4 (head 160 ms before the sound);"
        " _1s: 1 s moving averages of head speed and loudness, lag 0.",
    )
    table(
        "Time scales: ACF half-life (s) and power shares of the angles (clips >= 4 s)",
        [
            "yaw_halflife_s",
            "pitch_halflife_s",
            "roll_halflife_s",
            "yaw_pow_0.0-0.5",
            "yaw_pow_0.5-2.0",
            "yaw_pow_2.0-99.0",
            "pitch_pow_0.0-0.5",
            "pitch_pow_0.5-2.0",
            "pitch_pow_2.0-99.0",
        ],
    )
    table(
        "Speech vs silence: mean speed3d (deg/s) and pitch-axis band shares",
        [
            "speed3d_speech",
            "speed3d_silence",
            "pitch_speech_pow_0.5-2.0",
            "pitch_silence_pow_0.5-2.0",
            "pitch_speech_pow_2.0-99.0",
            "pitch_silence_pow_2.0-99.0",
            "speech_frac",
        ],
        f"Silence stats need >= {MIN_SILENCE} silent frames in the clip (band shares: in its longest 4 s+ run).",
    )

    # ---------------- lag curves (mean over speakers per group)
    print("\n### Mean correlation curve over lags (speakers of the group; k > 0: head follows sound)\n")
    show = [-10, -6, -4, -2, 0, 2, 4, 6, 10]
    print("| group | series | " + " | ".join(f"k={k}" for k in show) + " |")
    print("|---|---|" + "---|" * len(show))
    for name, sel in groups():
        for key in ("r_rms", "r_rms_mis", "r_pitch", "r_pitch_mis"):
            per_spk = {}
            for r in aud:
                if key in r and sel({"group": r["group"], "held_out": r["held_out"]}):
                    per_spk.setdefault(r["speaker"], []).append(r[key])
            if not per_spk:
                continue
            curve = np.nanmean([np.nanmean(v, axis=0) for v in per_spk.values()], axis=0)
            summary.setdefault("lag_curves", {}).setdefault(name, {})[key] = [round(float(x), 4) for x in curve]
            print(f"| {name} | {key} | " + " | ".join(f"{curve[LAGS == k][0]:+.3f}" for k in show) + " |")

    # ---------------- per-frame angular velocity distribution (pooled per speaker, then median)
    print("\n### Per-frame angular speed3d distribution (deg/s; pooled frames per speaker, median over speakers)\n")
    pct = (10, 50, 90, 99)
    print(
        "| group | frames | "
        + " | ".join(f"p{p}" for p in pct)
        + " | >20 deg/s | >50 deg/s | p50 speech | p50 silence | p90 speech | p90 silence |"
    )
    print("|---|---|" + "---|" * (len(pct) + 6))
    for name, sel in groups():
        per = {}
        for r in recs:
            if sel({"group": r["group"], "held_out": r["held_out"]}):
                d = per.setdefault(r["speaker"], {"all": [], "sp": [], "si": []})
                v = r["_v3"]
                m = np.isfinite(v)
                d["all"].append(v[m])
                if "_speech" in r:
                    d["sp"].append(v[m & r["_speech"]])
                    d["si"].append(v[m & ~r["_speech"]])
        if not per:
            continue
        rows = []
        for d in per.values():
            a = np.concatenate(d["all"])
            sp = np.concatenate(d["sp"]) if d["sp"] else np.array([])
            si = np.concatenate(d["si"]) if d["si"] else np.array([])
            rows.append(
                [
                    *np.percentile(a, pct),
                    (a > 20).mean(),
                    (a > 50).mean(),
                    np.median(sp) if len(sp) >= MIN_SILENCE else np.nan,
                    np.median(si) if len(si) >= MIN_SILENCE else np.nan,
                    np.percentile(sp, 90) if len(sp) >= MIN_SILENCE else np.nan,
                    np.percentile(si, 90) if len(si) >= MIN_SILENCE else np.nan,
                    len(a),
                ]
            )
        rows = np.array(rows)
        med = np.nanmedian(rows, axis=0)
        summary.setdefault("speed_distribution", {})[name] = [round(float(x), 3) for x in med]
        print(
            f"| {name} | {int(rows[:, -1].sum())} | "
            + " | ".join(f"{x:.1f}" for x in med[:4])
            + f" | {med[4]:.1%} | {med[5]:.1%} | "
            + " | ".join(f"{x:.1f}" for x in med[6:10])
            + " |"
        )

    # ---------------- held-out web-style speakers one by one
    print("\n### Held-out web-style speakers (the real-clip reference)\n")
    cols = [
        "rot_std_mean",
        "yaw_std",
        "pitch_std",
        "roll_std",
        "speed_raw_mean",
        "speed_mean",
        "size_std_pct",
        "r_rms_0",
        "r_rms_mis_0",
        "r_pitch_0",
    ]
    print("| speaker | clips | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for name, s in sorted(spk.items()):
        if s["held_out"] and s["group"] in ("LRS2", "web/TV"):
            print(f"| {name} | {s['n_clips']} | " + " | ".join(f"{s.get(c, np.nan):.2f}" for c in cols) + " |")

    # ---------------- thevals pose on the raw frames for a few clips
    if args.thevals:
        tv_py = Path("/tmp/th-eval/venv/bin/python")
        if not tv_py.exists():
            print("\n(thevals check skipped: /tmp/th-eval/venv missing)")
        else:
            pick = [
                "more__edtalk__uncrop_Obama",
                "more__lrs2_deep_avsr__00009",
                "more__grid_lipnet__lbax4n",
                "more__mimictalk__May_5s",
                "clips__pcavs_voxceleb__00010",
            ][: args.thevals]
            print("\n### thevals.py pose on the raw videos vs this script (landmarks.npy)\n")
            print(
                "| clip | thevals rot_std_mean | here (tracker ref) | here (thevals method on landmarks)"
                " | thevals speed mean | here raw speed mean |"
            )
            print("|---|---|---|---|---|---|")
            by_clip = {r["clip"]: r for r in recs}
            videos = Path(args.videos)
            for c in pick:
                if c not in by_clip:
                    continue
                top, *mid, last = c.split("__")  # more__edtalk__uncrop_Obama -> more/edtalk/uncrop_Obama.mp4
                mp4 = videos / top / Path(*mid) / f"{last}.mp4"
                if not mp4.is_file():
                    print(f"| {c} | no raw video at {mp4} |")
                    continue
                out = subprocess.run(
                    ["nice", "-n", "15", str(tv_py), "/work/shared/tools/thevals.py", "pose", str(mp4)],
                    capture_output=True,
                    text=True,
                )
                try:
                    j = json.loads(out.stdout.strip().splitlines()[-1])
                except Exception:
                    print(f"| {c} | failed: {out.stderr.strip()[-200:]} |")
                    continue
                sp = np.mean([j["yaw_speed"], j["pitch_speed"], j["roll_speed"]])
                r = by_clip[c]
                summary.setdefault("thevals_check", {})[c] = {
                    "thevals": j,
                    "here": {
                        "rot_std_mean": r["rot_std_mean"],
                        "tv_rot_std_mean": r["tv_rot_std_mean"],
                        "speed_raw_mean": r["speed_raw_mean"],
                    },
                }
                print(
                    f"| {c} | {j['rot_std_mean']:.2f} (y {j['yaw_std']}, p {j['pitch_std']}, r {j['roll_std']}) | "
                    f"{r['rot_std_mean']:.2f} (y {r['yaw_std']:.2f}, p {r['pitch_std']:.2f}, r {r['roll_std']:.2f}) | "
                    f"{r['tv_rot_std_mean']:.2f} | {sp:.1f} | {r['speed_raw_mean']:.1f} |"
                )

    print(f"\n# total {time.time() - t0:.0f} s", file=sys.stderr)
    if args.write:
        outdir = Path(args.write)
        outdir.mkdir(parents=True, exist_ok=True)
        with open(outdir / "per_clip.csv", "w", newline="") as f:
            w = csv.DictWriter(f, ["clip", "speaker", "group", "held_out"] + keys, extrasaction="ignore")
            w.writeheader()
            for r in recs:
                w.writerow(
                    {
                        k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else v)
                        for k, v in r.items()
                        if not k.startswith("_")
                    }
                )
        (outdir / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
