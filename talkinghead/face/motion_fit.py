"""`talkinghead train motion`: fit the renderer's AU -> landmark motion model on the
tracked clips of a prepared dataset (their aus.csv and landmarks.npy) and write
run_dir/motion.pt, its manifest, and report.json: leave-speakers-out error per region
against zero motion, and, on the excluded speakers, how well the tracked AUs determine the
lips through the model (`lip_geometry`: the check that AUs drive a mouth a viewer sees)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from actionunits.prepared import clip_dir, landmarks_path, matches_any, read_clips, read_info
from audio2au.frame_measures import INNER_LIP_BOTTOM, INNER_LIP_TOP, lip_gap
from talkinghead.face.au_tracker import Calibration
from talkinghead.face.motion import MOTION_FILE, MotionModel, SpeakerStats, clip_pose_free, fit_motion

# A speaker whose lips part less than this (inter-ocular units, 5th to 95th percentile of
# the measured gap) never opened the mouth: the gap's r would score tracking noise.
MIN_GAP_RANGE = 0.03
# Inner mouth corners and the outer lip centres (MediaPipe face mesh).
INNER_CORNERS = (78, 308)
LIP_CENTRES = (0, 17)


def speaker_stats(
    root: str | Path, exclude: list[str], min_valid: int, max_frames: int, calibration: Calibration | None = None
) -> dict[str, SpeakerStats]:
    """Sufficient statistics per speaker over every clip with landmarks (held-out speakers
    and clips excluded)."""
    calibration = calibration or Calibration.load()
    out: dict[str, SpeakerStats] = {}
    for speaker, aus, landmarks, valid in _clip_tracks(Path(root), lambda *names: not matches_any(exclude, *names)):
        n = len(aus)
        keep = np.zeros(n, bool)
        keep[np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))] = True
        pose_free, ok = clip_pose_free(landmarks, valid & keep, calibration)
        if ok.sum() < min_valid:
            continue
        stats = out.setdefault(speaker, SpeakerStats.empty(aus.shape[1]))
        stats.add_clip(aus[ok].astype(np.float64), pose_free)
    return out


def _clip_tracks(
    root: Path, wanted: Callable[[str, str], bool]
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(speaker, AU values, landmarks, valid) of every clip with landmarks whose speaker
    and clip name are `wanted`."""
    info = read_info(root)
    for clip in read_clips(root):
        lm_file = landmarks_path(root, clip.clip)
        if not wanted(clip.speaker, clip.clip) or not lm_file.is_file():
            continue
        series = AUSeries.read_csv(clip_dir(root, clip.clip) / "aus.csv").reorder(info.au_names)
        landmarks = np.load(lm_file)
        n = min(len(series), len(landmarks))
        valid = series.valid[:n] if series.valid is not None else np.ones(n, bool)
        yield clip.speaker, series.values[:n], landmarks[:n], valid


def clip_lips(
    model: MotionModel,
    aus: np.ndarray,
    landmarks: np.ndarray,
    valid: np.ndarray,
    calibration: Calibration | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One clip's lips as the model predicts them from its tracked AUs and as measured in
    its video, each centred on the clip's mean (as in the fit): {measure: (predicted,
    measured)}. `gap` is the inner-lip gap over the eye distance in the image plane
    (audio2au's real-mouth measure); `width` (inner corners) and `protrusion` (outer lip
    centres towards the camera) are taken pose-free."""
    pose_free, ok = clip_pose_free(landmarks, valid, calibration or Calibration.load())
    gap = lip_gap(landmarks[ok])
    found = np.isfinite(gap)
    b = model.basis
    out = {}
    for name, weights, real in (
        ("gap", b[:, INNER_LIP_BOTTOM, 1] - b[:, INNER_LIP_TOP, 1], gap),
        (
            "width",
            b[:, INNER_CORNERS[1], 0] - b[:, INNER_CORNERS[0], 0],
            pose_free[:, INNER_CORNERS[1], 0] - pose_free[:, INNER_CORNERS[0], 0],
        ),
        ("protrusion", -b[:, list(LIP_CENTRES), 2].mean(1), -pose_free[:, list(LIP_CENTRES), 2].mean(1)),
    ):
        pred = aus[ok][found].astype(np.float64) @ weights
        out[name] = (pred - pred.mean(), real[found] - real[found].mean())
    return out


def lip_geometry(
    model: MotionModel, root: str | Path, speakers: list[str], calibration: Calibration | None = None
) -> dict[str, dict[str, float | None]]:
    """Per speaker (clips pooled), Pearson r of `clip_lips`' predicted and measured lips:
    the check that the tracked AUs, through the motion model, determine the lips a viewer
    sees. The gap's r is None for a speaker whose lips never part."""
    pooled: dict[str, dict[str, list]] = {}
    for speaker, aus, landmarks, valid in _clip_tracks(Path(root), lambda *names: matches_any(speakers, *names)):
        for name, (pred, real) in clip_lips(model, aus, landmarks, valid, calibration).items():
            if len(pred) >= 10:
                pair = pooled.setdefault(speaker, {}).setdefault(name, [[], []])
                pair[0].append(pred)
                pair[1].append(real)
    out: dict[str, dict[str, float | None]] = {}
    for speaker, by_name in sorted(pooled.items()):
        out[speaker] = {
            name: float(np.corrcoef(np.concatenate(p), np.concatenate(r))[0, 1]) for name, (p, r) in by_name.items()
        }
        if np.ptp(np.percentile(np.concatenate(by_name["gap"][1]), (5, 95))) < MIN_GAP_RANGE:
            out[speaker]["gap"] = None
    return out


def train_motion(cfg: DictConfig) -> MotionModel:
    root = Path(cfg.data.root)
    if not root.is_dir():
        raise FileNotFoundError(f"prepared dataset not found: {root} (run `talkinghead prepare` first)")
    per_speaker = speaker_stats(
        root, list(cfg.data.exclude_speakers), int(cfg.min_valid_frames), int(cfg.max_frames_per_clip)
    )
    if not per_speaker:
        raise ValueError(f"{root} has no clips with landmarks; prepare the clips again with this version")
    model = fit_motion(per_speaker, [float(r) for r in cfg.ridges], int(cfg.folds), read_info(root).au_names)
    model.info.update(data=str(root), exclude_speakers=list(cfg.data.exclude_speakers))
    if cfg.data.exclude_speakers:
        model.info["lip_geometry"] = lip_geometry(model, root, list(cfg.data.exclude_speakers))
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / MOTION_FILE)
    with atomic_output(run_dir / "report.json") as tmp:
        tmp.write_text(json.dumps(model.info, indent=2) + "\n")
    print(format_report(model.info, run_dir / MOTION_FILE))
    return model


def format_report(info: dict, path: Path) -> str:
    held, zero = info["heldout_rmse"], info["zero_motion_rmse"]
    lines = [
        f"wrote {path}: {info['speakers']} speakers, {info['frames']} frames, ridge {info['ridge']:g}",
        "leave-speakers-out RMS landmark error (inter-ocular units): region  model  zero-motion",
    ]
    lines += [f"  {name:6s} {held[name]:.4f} {zero[name]:.4f}" for name in held]
    lips = info.get("lip_geometry")
    if lips:
        lines.append("excluded speakers: r of the lips predicted from their tracked AUs with the measured lips")
        lines.append(f"  {'speaker':<40}{'gap':>7}{'width':>7}{'protr.':>7}")
        keys = ("gap", "width", "protrusion")
        cell = lambda v: f"{'-':>7}" if v is None else f"{v:>7.3f}"  # noqa: E731
        lines += [f"  {s[:39]:<40}" + "".join(cell(r[k]) for k in keys) for s, r in lips.items()]
        means = [np.mean([r[k] for r in lips.values() if r[k] is not None]) for k in keys]
        lines.append(f"  {'mean (gap: speakers whose lips part)':<40}" + "".join(map(cell, means)))
    return "\n".join(lines)
