"""Frames/s of the face front-end on CPU: detection + landmarks (mediapipe face mesh), alignment
to the 100 px crop, AU coefficients, and paste-back, on real clips of the shared data.

    python benchmarks/face_tracking.py [--frames 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from talkinghead.data_root import data_root
from talkinghead.face.align import Paster, align_face
from talkinghead.face.au_tracker import AUTracker
from talkinghead.face.landmarks import LandmarkDetector
from talkinghead.io.video_frames import VideoFrames

CLIPS = ("video/grid/s1/video/bbaf2n.mp4", "video/clips/video_retalking/1.mp4", "video/more/lrs2_deep_avsr/00001.mp4")


def bench(path, n_frames: int, tracker: AUTracker) -> None:
    frames = []
    for rgb in VideoFrames(path):
        frames.append(rgb)
        if len(frames) >= n_frames:
            break
    timings = {"landmarks": 0.0, "align": 0.0, "aus": 0.0}
    landmarks = []
    with LandmarkDetector(video=True) as det:
        det.detect(frames[0])  # graph warm-up
        for rgb in frames:
            t0 = time.perf_counter()
            faces = det.detect(rgb)
            t1 = time.perf_counter()
            if faces:
                aligned = align_face(rgb, faces[0], 100)
                landmarks.append(faces[0])
            t2 = time.perf_counter()
            if faces:
                tracker.from_landmarks(faces[0][None])
            t3 = time.perf_counter()
            timings["landmarks"] += t1 - t0
            timings["align"] += t2 - t1
            timings["aus"] += t3 - t2
    t0 = time.perf_counter()
    tracker.series(np.stack(landmarks), 25.0)
    batch_aus = (time.perf_counter() - t0) / len(landmarks)
    paster = Paster(aligned)
    t0 = time.perf_counter()
    for _ in range(50):
        paster.paste(frames[-1], aligned.crop)
    paste = (time.perf_counter() - t0) / 50
    n = len(frames)
    total = sum(timings.values())
    h, w = frames[0].shape[:2]
    print(
        f"{path.name} ({w}x{h}, {n} frames): {n / total:.1f} frames/s  "
        + "  ".join(f"{k} {v / n * 1e3:.2f} ms" for k, v in timings.items())
        + f"  | AUs batched over the clip {batch_aus * 1e3:.3f} ms/frame, paste-back {paste * 1e3:.2f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300)
    args = p.parse_args()
    tracker = AUTracker()
    root = data_root()
    for rel in CLIPS:
        if (root / rel).is_file():
            bench(root / rel, args.frames, tracker)
        else:
            print(f"skipped {rel}: not in {root}")


if __name__ == "__main__":
    main()
