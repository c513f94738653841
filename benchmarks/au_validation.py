"""Validation numbers of the AU tracker on the real data:

- jawOpen vs speech energy on GRID s1 (per-frame RMS of the clip's audio), and jawOpen in
  speech vs silence frames (GRID word alignments);
- blinks: rising crossings of min(eyeBlinkLeft, eyeBlinkRight) > 0.5, per minute of video;
- smiles: mouthSmile on the `happiness` stills of faces/lfw_expressions vs every other label.

    python benchmarks/au_validation.py --prepared /work/prepared [--stills 300]

GRID and blink numbers read a dataset made by `talkinghead prepare --shared-data`; the
smile numbers track the stills directly.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import soundfile as sf

from actionunits import AU_NAMES, AUSeries
from actionunits.prepared import clip_dir, read_clips
from talkinghead.data_root import data_root


def rank_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    scores = np.concatenate([positive, negative])
    ranks = np.argsort(np.argsort(scores, kind="mergesort"), kind="mergesort") + 1.0
    for value in np.unique(scores):  # average ranks of ties
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def frame_rms(wav: Path, n_frames: int, fps: float) -> np.ndarray:
    audio, sr = sf.read(wav, dtype="float64")
    hop = sr / fps
    return np.array(
        [
            np.sqrt(np.mean(audio[int(i * hop) : int((i + 1) * hop)] ** 2) if int(i * hop) < len(audio) else 0.0)
            for i in range(n_frames)
        ]
    )


def grid_numbers(root: Path, data: Path) -> None:
    align = data / "video" / "grid" / "s1" / "align"
    corr, corr_log, speech_jaw, silence_jaw = [], [], [], []
    for rec in read_clips(root):
        if not rec.clip.startswith("grid__s1__") or not rec.audio:
            continue
        series = AUSeries.read_csv(clip_dir(root, rec.clip) / "aus.csv", fps=rec.fps)
        jaw = series.column("jawOpen").astype(np.float64)
        rms = frame_rms(clip_dir(root, rec.clip) / rec.audio, len(jaw), rec.fps)
        if jaw.std() == 0 or rms.std() == 0:
            continue
        corr.append(np.corrcoef(jaw, rms)[0, 1])
        corr_log.append(np.corrcoef(jaw, np.log(rms + 1e-4))[0, 1])
        words = align / f"{rec.clip.rsplit('__', 1)[-1]}.align"
        if words.is_file():
            speech = np.zeros(len(jaw), bool)
            for line in words.read_text().splitlines():
                if line.strip():
                    start, end, word = line.split()
                    if word != "sil":
                        speech[int(start) // 1000 : int(end) // 1000] = True
            speech_jaw.append(jaw[speech].mean())
            silence_jaw.append(jaw[~speech].mean())
    if not corr:
        print("GRID: no prepared grid__s1__ clips found")
        return
    print(
        f"GRID s1, {len(corr)} clips: corr(jawOpen, RMS) per clip mean {np.mean(corr):.3f} "
        f"median {np.median(corr):.3f}; corr(jawOpen, log RMS) mean {np.mean(corr_log):.3f}"
    )
    print(
        f"GRID s1: jawOpen mean in speech frames {np.mean(speech_jaw):.3f} vs silence {np.mean(silence_jaw):.3f}; "
        f"speech > silence in {np.mean(np.array(speech_jaw) > np.array(silence_jaw)) * 100:.1f} % of clips"
    )


def blink_numbers(root: Path) -> None:
    blinks: dict[str, int] = {}
    seconds: dict[str, float] = {}
    clips_with: dict[str, list[bool]] = {}
    for rec in read_clips(root):
        series = AUSeries.read_csv(clip_dir(root, rec.clip) / "aus.csv", fps=rec.fps)
        closed = np.minimum(series.column("eyeBlinkLeft"), series.column("eyeBlinkRight")) > 0.5
        n = int(closed[0]) + int(np.sum(closed[1:] & ~closed[:-1]))
        group = "grid_s1" if rec.clip.startswith("grid__s1__") else "other clips"
        blinks[group] = blinks.get(group, 0) + n
        seconds[group] = seconds.get(group, 0.0) + len(series) / rec.fps
        clips_with.setdefault(group, []).append(n > 0)
    for group in blinks:
        print(
            f"blinks, {group}: {blinks[group]} in {seconds[group] / 60:.1f} min = "
            f"{blinks[group] / seconds[group] * 60:.1f}/min; {sum(clips_with[group])} of "
            f"{len(clips_with[group])} clips have at least one"
        )


def smile_numbers(data: Path, per_label: int) -> None:
    from talkinghead.face.au_tracker import AUTracker
    from talkinghead.face.calibrate import lfw_images_by_emotion
    from talkinghead.face.landmarks import LandmarkDetector
    from talkinghead.io.image import read_image

    lfw = data / "faces" / "lfw_expressions"
    by_label = lfw_images_by_emotion(lfw)
    rng = random.Random(1)
    tracker = AUTracker()
    smile_idx = [AU_NAMES.index("mouthSmileLeft"), AU_NAMES.index("mouthSmileRight")]
    smiles: dict[str, np.ndarray] = {}
    with LandmarkDetector() as det:
        for label, names in sorted(by_label.items()):
            rng.shuffle(names)
            values = []
            for name in names[:per_label]:
                if not (lfw / "images" / name).is_file():
                    continue
                aus = tracker.track_image(read_image(lfw / "images" / name), detector=det)
                if aus is not None:
                    values.append(aus[smile_idx].mean())
            smiles[label] = np.array(values)
    for label, v in smiles.items():
        if len(v):
            print(f"smile, {label:9s} n={len(v):4d}: mean {v.mean():.3f}, > 0.3 in {np.mean(v > 0.3) * 100:.0f} %")
    happy = smiles.get("happiness", np.array([]))
    others = np.concatenate([v for k, v in smiles.items() if k != "happiness"])
    if len(happy) and len(others):
        print(f"smile AUC, happiness vs all other labels: {rank_auc(happy, others):.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prepared", type=Path, help="dataset made by `talkinghead prepare --shared-data`")
    p.add_argument("--data", type=Path, default=data_root())
    p.add_argument("--stills", type=int, default=300, help="stills per expression label")
    args = p.parse_args()
    if args.prepared:
        grid_numbers(args.prepared, args.data)
        blink_numbers(args.prepared)
    if args.stills:
        smile_numbers(args.data, args.stills)


if __name__ == "__main__":
    main()
