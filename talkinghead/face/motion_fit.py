"""`talkinghead train motion`: fit the renderer's AU -> landmark motion model on the
tracked clips of a prepared dataset (their aus.csv and landmarks.npy) and write
run_dir/motion.pt, its manifest, and report.json (leave-speakers-out error per region
against zero motion)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from actionunits.prepared import clip_dir, landmarks_path, matches_any, read_clips, read_info
from talkinghead.face.au_tracker import Calibration
from talkinghead.face.motion import MOTION_FILE, MotionModel, SpeakerStats, clip_pose_free, fit_motion


def speaker_stats(root: str | Path, exclude: list[str], min_valid: int, max_frames: int,
                  calibration: Calibration | None = None) -> dict[str, SpeakerStats]:
    """Sufficient statistics per speaker over every clip with landmarks (held-out speakers
    and clips excluded)."""
    root = Path(root)
    info = read_info(root)
    calibration = calibration or Calibration.load()
    out: dict[str, SpeakerStats] = {}
    for clip in read_clips(root):
        lm_file = landmarks_path(root, clip.clip)
        if matches_any(exclude, clip.speaker, clip.clip) or not lm_file.is_file():
            continue
        series = AUSeries.read_csv(clip_dir(root, clip.clip) / "aus.csv").reorder(info.au_names)
        landmarks = np.load(lm_file)
        n = min(len(series), len(landmarks))
        keep = np.zeros(n, bool)
        keep[np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))] = True
        valid = series.valid[:n] if series.valid is not None else np.ones(n, bool)
        pose_free, ok = clip_pose_free(landmarks[:n], valid & keep, calibration)
        if ok.sum() < min_valid:
            continue
        stats = out.setdefault(clip.speaker, SpeakerStats.empty(len(info.au_names)))
        stats.add_clip(series.values[:n][ok].astype(np.float64), pose_free)
    return out


def train_motion(cfg: DictConfig) -> MotionModel:
    root = Path(cfg.data.root)
    if not root.is_dir():
        raise FileNotFoundError(f"prepared dataset not found: {root} (run `talkinghead prepare` first)")
    per_speaker = speaker_stats(root, list(cfg.data.exclude_speakers), int(cfg.min_valid_frames),
                                int(cfg.max_frames_per_clip))
    if not per_speaker:
        raise ValueError(f"{root} has no clips with landmarks; prepare the clips again with this version")
    model = fit_motion(per_speaker, [float(r) for r in cfg.ridges], int(cfg.folds), read_info(root).au_names)
    model.info.update(data=str(root), exclude_speakers=list(cfg.data.exclude_speakers))
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / MOTION_FILE)
    with atomic_output(run_dir / "report.json") as tmp:
        tmp.write_text(json.dumps(model.info, indent=2) + "\n")
    print(format_report(model.info, run_dir / MOTION_FILE))
    return model


def format_report(info: dict, path: Path) -> str:
    held, zero = info["heldout_rmse"], info["zero_motion_rmse"]
    lines = [f"wrote {path}: {info['speakers']} speakers, {info['frames']} frames, ridge {info['ridge']:g}",
             "leave-speakers-out RMS landmark error (inter-ocular units): region  model  zero-motion"]
    lines += [f"  {name:6s} {held[name]:.4f} {zero[name]:.4f}" for name in held]
    return "\n".join(lines)
