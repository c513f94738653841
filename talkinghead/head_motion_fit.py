"""`talkinghead train head_motion`: fit the speech -> head pose model
(`audio2au.head_motion`) on the prepared clips' measured head pose (`landmark_angles` of
their landmarks.npy) and audio, and score it on the held-out speakers: run_dir/head_motion.pt,
its manifest, and report.json (the fit, a scan over feature leads, the evaluation).

The evaluation (`evaluate_head_motion`) drives the model with each held-out web-style
clip's audio (3 seeds) and compares with the real head in that clip: rotation std per
axis, raw angular speed (thevals' definition), and how head speed goes with loudness at a
160 ms lead and on 1 s averages, own audio against another clip's
(docs/results/2026-12-06-head-pose/ measured the real clips the same way).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actionunits.atomic import atomic_output
from actionunits.prepared import clip_dir, landmarks_path, matches_any, read_clips
from audio2au.features import load_audio
from audio2au.frame_measures import frame_rms_db, speech_frames
from audio2au.head_measures import lagged_r, moving_average, raw_speed, rotation_std
from audio2au.head_motion import (
    MODEL_FPS,
    HeadMotion,
    calibrate,
    choose_regime,
    clean_pose,
    fit_head_motion,
    prosody,
    speaker_weight,
)
from talkinghead.face.head_pose import landmark_angles
from talkinghead.model_files import HEAD_MOTION_FILE

AXES = ("yaw", "pitch", "roll")
EVAL_LEAD = -4  # frames: head speed 160 ms before the loudness (where real clips correlate best)
MIN_SPEECH = 0.2  # clips with less speech are left out of the speech-relation scores
MEASURES = (
    "rot_std_mean",
    "yaw_std",
    "pitch_std",
    "roll_std",
    "speed_raw_mean",
    "speed_smooth_mean",
    "speed3d_speech",
    "speed3d_silence",
    "r_lead4_own",
    "r_lead4_mis",
    "r_1s_own",
    "r_1s_mis",
)


@dataclass
class Clip:
    name: str
    speaker: str
    wav: np.ndarray  # 16 kHz mono
    pose: np.ndarray  # (n, 3) degrees, NaN where the tracker had no pose
    fps: float


def read_pose_clips(root: str | Path, wanted: Callable[[str, str], bool], min_valid: int = 25) -> Iterator[Clip]:
    """Clips with audio and landmarks whose speaker or clip name satisfies `wanted`."""
    for rec in read_clips(root):
        lm_file = landmarks_path(root, rec.clip)
        if not rec.audio or not lm_file.is_file() or not wanted(rec.speaker, rec.clip):
            continue
        pose, valid = landmark_angles(np.load(lm_file))
        if valid.sum() < min_valid:
            continue
        yield Clip(rec.clip, rec.speaker, load_audio(clip_dir(root, rec.clip) / rec.audio), pose, rec.fps)


def training_clips(clips: list[Clip], sigma: float, max_gap: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(features, cleaned pose, speaker) at the model's 25 fps for `fit_head_motion`."""
    out = []
    for c in clips:
        pose = c.pose if c.fps == MODEL_FPS else _to_model_rate(c.pose, c.fps)
        features = prosody(c.wav, MODEL_FPS, len(pose) + 16)  # + look-ahead for any lead
        out.append((features, clean_pose(pose, sigma, max_gap), c.speaker))
    return out


def _to_model_rate(pose: np.ndarray, fps: float) -> np.ndarray:
    t = np.arange(int(len(pose) * MODEL_FPS / fps)) * fps / MODEL_FPS
    k = np.minimum(np.rint(t).astype(int), len(pose) - 1)
    return pose[k]  # nearest frame: NaN gaps stay gaps


CALIBRATION_ROUNDS = 2  # the soft limit makes the std not quite linear in sigma


def train_head_motion(cfg: DictConfig) -> HeadMotion:
    """Fit on every clip but the held-out speakers' (data.exclude_speakers), at each lead of
    lead_scan (reported) and `lead` (kept); score on the held-out speakers but GRID's."""
    root = Path(cfg.data.root)
    if not root.is_dir():
        raise FileNotFoundError(f"prepared dataset not found: {root} (run `talkinghead prepare` first)")
    held = list(cfg.data.exclude_speakers)
    weights = {str(k): float(v) for k, v in OmegaConf.to_container(cfg.speaker_weights).items()}
    clips = list(read_pose_clips(root, lambda *names: not matches_any(held, *names), int(cfg.min_valid_frames)))
    if not clips:
        raise ValueError(f"{root} has no clips with audio and landmarks to fit head motion on")
    data = training_clips(clips, float(cfg.smooth_sigma), int(cfg.max_gap))
    fits = {lead: fit_head_motion(data, lead, weights) for lead in sorted({*cfg.lead_scan, cfg.lead})}
    scan = {lead: {a: report["axes"][a]["log_variance_r2"] for a in AXES} for lead, (_, report) in fits.items()}
    print(
        "r2 of log residual^2 on prosody (yaw/pitch/roll) by lead: "
        + ", ".join(f"{lead}: " + "/".join(f"{v:.4f}" for v in r2.values()) for lead, r2 in scan.items())
    )
    chosen = fits[int(cfg.lead)][0]
    fitted = [c for c in data if speaker_weight(c[2], weights) > 0]
    if cfg.regime_grid:
        chosen.info["regime"] = choose_regime(chosen, fitted, [tuple(r) for r in cfg.regime_grid])
    chosen.info["calibration"] = [calibrate(chosen, fitted) for _ in range(CALIBRATION_ROUNDS)]
    chosen.info.update(
        data=str(root),
        exclude_speakers=held,
        speaker_weights=weights,
        smooth_sigma=float(cfg.smooth_sigma),
        max_gap=int(cfg.max_gap),
        clips=len(clips),
        lead_scan=scan,
    )
    web = [s for s in held if not s.startswith("grid_")]
    clip_scores = []
    if web:
        evaluation = evaluate_head_motion(chosen, root, web, int(cfg.eval_seeds))
        chosen.info["heldout"], clip_scores = evaluation["summary"], evaluation["clips"]
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    chosen.save(run_dir / HEAD_MOTION_FILE)
    with atomic_output(run_dir / "report.json") as tmp:
        tmp.write_text(json.dumps({**chosen.info, "heldout_clips": clip_scores}, indent=2) + "\n")
    print(format_report(chosen, run_dir / HEAD_MOTION_FILE))
    return chosen


def evaluate_head_motion(
    model: HeadMotion, root: str | Path, speakers: list[str], seeds: int = 3, lead: int | None = None
) -> dict:
    """Real head vs the model driven by the same clip's audio (`seeds` samples), on the
    clips of `speakers` (globs). Mismatched audio: seed s's head against the loudness of
    the s-th of `seeds` random clips of other speakers (the real head against all of them).
    Returns {"clips": per clip, "summary": median over speakers (a speaker = mean of its
    clips) of each measure, and its mean over clips as "<measure>_clip_mean"}."""
    clips = list(read_pose_clips(root, lambda *names: matches_any(speakers, *names)))
    if not clips:
        raise ValueError(f"no clips of {speakers} with audio and landmarks in {root}")
    choose = np.random.default_rng(0)
    loud = [frame_rms_db(c.wav, c.fps, len(c.pose))[:, 0] for c in clips]
    rows = []
    for i, c in enumerate(clips):
        others = [j for j, o in enumerate(clips) if o.speaker != c.speaker] or [i]
        partners = choose.choice(others, seeds, replace=len(others) < seeds)
        speech = speech_frames(loud[i], c.fps)
        row = {"clip": c.name, "speaker": c.speaker, "seconds": len(c.pose) / c.fps, "speech": float(speech.mean())}
        real = [_measures("real", clean_pose(c.pose, 0.0), c.fps, loud[i], loud[j], speech) for j in partners]
        samples = [model.sample(c.wav, c.fps, len(c.pose), np.random.default_rng(s), lead) for s in range(seeds)]
        fake = [_measures("model", p, c.fps, loud[i], loud[j], speech) for p, j in zip(samples, partners)]
        for runs in (real, fake):
            row.update({k: _nanmean([r[k] for r in runs]) for k in runs[0]})
        rows.append(row)
    keys = [k for k in rows[0] if k.startswith(("real_", "model_"))]
    per_speaker: dict[str, list[dict]] = {}
    for r in rows:
        per_speaker.setdefault(r["speaker"], []).append(r)
    means = [{k: _nanmean([r[k] for r in rs]) for k in keys} for rs in per_speaker.values()]
    summary: dict = {k: _nanmedian([m[k] for m in means]) for k in keys}
    summary.update({f"{k}_clip_mean": _nanmean([r[k] for r in rows]) for k in keys})
    summary["speakers"], summary["clips"] = len(per_speaker), len(rows)
    return {"clips": rows, "summary": summary}


def _measures(
    tag: str, pose: np.ndarray, fps: float, loud: np.ndarray, other_loud: np.ndarray, speech: np.ndarray
) -> dict[str, float]:
    """Std per axis and raw and smoothed speed (mean of the axes) of a (n, 3) pose series,
    and r of its smoothed 3D angular speed with the loudness (own and another clip's) at
    EVAL_LEAD and on 1 s averages."""
    pose = np.asarray(pose, np.float64)
    std = rotation_std(pose)
    smooth = clean_pose(pose, 1.0)
    out = {f"{tag}_{a}_std": float(s) for a, s in zip(AXES, std)}
    out[f"{tag}_rot_std_mean"] = float(std.mean())
    out[f"{tag}_speed_raw_mean"] = raw_speed(pose, fps)
    out[f"{tag}_speed_smooth_mean"] = raw_speed(smooth, fps)
    v3 = np.linalg.norm(np.gradient(smooth, axis=0), axis=1) * fps
    for name, frames in (("speech", speech[: len(v3)]), ("silence", ~speech[: len(v3)])):
        m = frames & np.isfinite(v3)
        out[f"{tag}_speed3d_{name}"] = float(v3[m].mean()) if m.sum() >= 12 else np.nan
    enough = speech.mean() >= MIN_SPEECH
    width = int(round(fps))
    for name, aud in (("own", loud), ("mis", other_loud)):
        out[f"{tag}_r_lead4_{name}"] = lagged_r(v3, aud, EVAL_LEAD) if enough else np.nan
        out[f"{tag}_r_1s_{name}"] = (
            lagged_r(moving_average(v3, width), moving_average(aud, width), 0) if enough else np.nan
        )
    return out


def _nanmedian(values: list[float]) -> float | None:
    v = np.asarray(values, np.float64)
    return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else None


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else np.nan


def format_report(model: HeadMotion, path: Path) -> str:
    info = model.info
    cell = lambda v: f"{'-':>8}" if v is None or not np.isfinite(v) else f"{v:>8.3f}"  # noqa: E731
    lines = [
        f"wrote {path}: {info['speakers']} speakers, {info['frames']} frames, lead {model.lead} frames",
        "  axis        a1      a2  std speech / silence (deg, stationary)  r2 of log residual^2 on prosody",
    ]
    st = info["stationary_std_deg"]
    for j, a in enumerate(AXES):
        ax = info["axes"][a]
        speech, silence = (st[k][j] if st[k] else None for k in ("speech", "silence"))
        lines.append(
            f"  {a:6s}{ax['ar'][0]:+8.3f}{ax['ar'][1]:+8.3f}{cell(speech)}{cell(silence)}{cell(ax['log_variance_r2'])}"
        )
    held = info.get("heldout")
    if held:
        lines.append(f"held-out web-style speakers ({held['speakers']}, {held['clips']} clips):")
        lines.append(f"  {'measure':<20}{'real':>8}{'model':>8}  (median over speakers; mean over clips)")
        for m in MEASURES:
            row = [held.get(f"{w}_{m}{x}") for x in ("", "_clip_mean") for w in ("real", "model")]
            lines.append(f"  {m:<20}" + "".join(map(cell, row[:2])) + "  " + "".join(map(cell, row[2:])))
    return "\n".join(lines)
