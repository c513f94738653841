"""Rebuild `au_calibration.json` from the shared real data (a developer tool, not run at
inference): `python -m talkinghead.face.calibrate [--out FILE] [--max-seconds 25]`.

- reference head: generalized Procrustes mean of the rigid points over all faces, then
  rolled/yawed so the eye line is the x axis and scaled to inter-ocular distance 1;
- neutral: median of each measure over the stills labelled "neutral" in
  faces/lfw_expressions (mouth opening: a low percentile of all faces, lips closed);
- strong end: the 0.5th / 99.5th percentile over all faces (stills of every expression
  plus talking and emoting video frames), whichever side the AU grows towards.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from talkinghead.face.au_tracker import (
    AU_MEASURES,
    CALIBRATION_FILE,
    MEASURES,
    RIGID,
    Calibration,
    measures,
    remove_pose,
)

STRONG_PERCENTILE = 99.5
CLOSED_MOUTH_PERCENTILE = 10.0
CLOSED_MOUTH_MEASURES = ("lip_gap", "mouth_round")


def _normalise_reference(ref: np.ndarray) -> np.ndarray:
    """Eye line along +x, nose bridge at the origin, inter-ocular distance 1."""
    idx = {p: i for i, p in enumerate(RIGID)}
    right = (ref[idx[33]] + ref[idx[133]]) / 2
    left = (ref[idx[263]] + ref[idx[362]]) / 2
    ex = (left - right) / np.linalg.norm(left - right)
    up = ref[idx[10]] - ref[idx[168]]  # forehead above the nose bridge: -y in images
    ey = -(up - up.dot(ex) * ex)
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    rot = np.stack([ex, ey, ez])
    out = (ref - ref[idx[168]]) @ rot.T
    return out / np.linalg.norm(left - right)


def fit_reference(landmarks: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Generalized Procrustes mean of the rigid points of faces (N,478,3)."""
    rigid = landmarks[:, list(RIGID)].astype(np.float64)
    ref = _normalise_reference(rigid[0])
    for _ in range(iterations):
        aligned, _ = remove_pose(landmarks, ref)
        ref = _normalise_reference(aligned[:, list(RIGID)].mean(axis=0))
    return ref


def fit_calibration(stills: np.ndarray, neutral_mask: np.ndarray, frames: np.ndarray) -> Calibration:
    """Calibration from still faces (with a mask of the neutral ones) and video frames."""
    everything = np.concatenate([stills, frames])
    reference = fit_reference(everything[:: max(1, len(everything) // 4000)])
    cal = Calibration(reference, {}, {})
    pose_free, resid = remove_pose(everything, reference)
    keep = resid < np.percentile(resid, 99)
    raw = {k: v[keep] for k, v in measures(pose_free).items()}
    neutral_raw = measures(pose_free[: len(stills)][neutral_mask])
    for name in MEASURES:
        if name in CLOSED_MOUTH_MEASURES:
            cal.neutral[name] = float(np.percentile(raw[name], CLOSED_MOUTH_PERCENTILE))
        else:
            cal.neutral[name] = float(np.median(neutral_raw[name]))
    for measure, direction in set(AU_MEASURES.values()):
        q = STRONG_PERCENTILE if direction > 0 else 100 - STRONG_PERCENTILE
        cal.strong[f"{measure}{'+' if direction > 0 else '-'}"] = float(np.percentile(raw[measure], q))
    return cal


def lfw_images_by_emotion(lfw: Path) -> dict[str, list[str]]:
    """Image names of the lfw_expressions set per emotion label (labels lower-cased: the
    legend mixes case)."""
    by_label: dict[str, list[str]] = {}
    with open(lfw / "legend.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_label.setdefault(row["emotion"].strip().lower(), []).append(row["image"])
    return by_label


def collect(data: Path, max_seconds: float, stills_per_label: int = 700) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks of labelled stills and of video frames of the shared data."""
    import random

    from talkinghead.face.landmarks import LandmarkDetector
    from talkinghead.io.image import read_image
    from talkinghead.io.video_frames import VideoFrames

    lfw = data / "faces" / "lfw_expressions"
    by_label = lfw_images_by_emotion(lfw)
    rng = random.Random(0)
    stills, is_neutral = [], []
    with LandmarkDetector() as det:
        for label, images in sorted(by_label.items()):
            rng.shuffle(images)
            for name in images[:stills_per_label]:
                path = lfw / "images" / name
                if not path.is_file():
                    continue
                faces = det.detect(read_image(path))
                if faces:
                    stills.append(faces[0])
                    is_neutral.append(label == "neutral")
    videos = sorted((data / "video").glob("**/*.mp4"))
    grid = [v for v in videos if "grid/s1" in v.as_posix()]
    videos = [v for v in videos if v not in grid] + grid[:20]
    frames = []
    for video in videos:
        reader = VideoFrames(video, 25)
        with LandmarkDetector(video=True) as det:
            for i, rgb in enumerate(reader):
                if i >= max_seconds * 25:
                    break
                faces = det.detect(rgb)
                if faces:
                    frames.append(faces[0])
    return np.array(stills), np.array(is_neutral), np.array(frames)


def main() -> None:
    from talkinghead.data_root import data_root

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=data_root())
    p.add_argument("--out", type=Path, default=Path(__file__).with_name(CALIBRATION_FILE))
    p.add_argument("--max-seconds", type=float, default=25.0, help="frames used per video")
    args = p.parse_args()
    stills, neutral, frames = collect(args.data, args.max_seconds)
    fit_calibration(stills, neutral, frames).save(args.out)
    print(f"wrote {args.out} from {len(stills)} stills and {len(frames)} video frames")


if __name__ == "__main__":
    main()
