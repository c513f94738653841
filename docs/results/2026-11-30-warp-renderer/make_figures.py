"""Figures of docs/results/2026-11-30-warp-renderer (run from the repository root):

    python docs/results/2026-11-30-warp-renderer/make_figures.py [--data ../shared/data]

sweep_<portrait>.jpg: each of the 27 AUs at 0, 0.5 and 1 (the others as the photo shows
them), face crops of the full-resolution output; speech_sheet.jpg: every 4th frame of a
speech render of each portrait, mouth region; strip.jpg: the README's picture.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from actionunits import AU_NAMES
from talkinghead.portrait import Portrait
from talkinghead.renderers.warp import WarpAnimator, load_motion

HERE = Path(__file__).resolve().parent
PORTRAITS = {  # the kinds the shared data has (no paintings there)
    "liveportrait_s1.jpg": "colour studio portrait",
    "liveportrait_s2_bw.jpg": "black-and-white, small face in a large photo",
    "liveportrait_s12_bw.jpg": "old colourised print, moustache",
    "video_retalking_5.png": "glasses",
    "pcavs_voxceleb_00002.png": "low resolution (224 px), three-quarter view",
    "grid_s1.png": "small face (360x288 video frame)",
}
CELL, LEVELS = 96, (0.0, 0.5, 1.0)


def face_box(portrait: Portrait, margin: float = 0.15) -> tuple[slice, slice]:
    lm = portrait.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    s = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = portrait.image.shape[:2]
    return (
        slice(int(max(cy - s / 2, 0)), int(min(cy + s / 2, h))),
        slice(int(max(cx - s / 2, 0)), int(min(cx + s / 2, w))),
    )


def sweep(name: str, data: Path, motion) -> np.ndarray:
    portrait = Portrait.open(data / "portraits" / name, max_height=720)
    animator = WarpAnimator(portrait, motion)
    box = face_box(portrait)
    slots = []
    for k, au in enumerate(AU_NAMES):
        aus = np.repeat(portrait.aus[None], len(LEVELS), 0)
        aus[:, k] = LEVELS
        cells = [cv2.resize(f[box], (CELL, CELL), interpolation=cv2.INTER_AREA) for f in animator.frames(aus)]
        label = np.full((16, CELL * len(LEVELS), 3), 255, np.uint8)
        cv2.putText(label, au, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        slots.append(np.concatenate([label, np.concatenate(cells, 1)], 0))
    slots.append(np.full_like(slots[0], 255))
    rows = [np.concatenate(slots[i : i + 4], 1) for i in range(0, 28, 4)]
    return np.concatenate(rows, 0)


def strip(data: Path, motion) -> np.ndarray:
    """Photo | jawOpen 0.6 | smile | blink | surprised, of the first portrait."""
    portrait = Portrait.open(data / "portraits" / next(iter(PORTRAITS)), max_height=720)
    edits = [
        {},
        {"jawOpen": 0.6},
        {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5},
        {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
        {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0, "jawOpen": 0.4},
    ]
    aus = np.repeat(portrait.aus[None], len(edits), 0)
    for row, edit in zip(aus, edits):
        for name, value in edit.items():
            row[AU_NAMES.index(name)] = value
    box = face_box(portrait, 0.05)
    frames = WarpAnimator(portrait, motion).frames(aus)
    return np.concatenate([cv2.resize(f[box], (200, 200), interpolation=cv2.INTER_AREA) for f in frames], 1)


def speech_sheet(data: Path, tmp: Path) -> np.ndarray:
    rows = []
    for name in PORTRAITS:
        out = tmp / f"{Path(name).stem}.mp4"
        subprocess.run(
            [
                "talkinghead",
                "render",
                "--photo",
                str(data / "portraits" / name),
                "--audio",
                str(data / "speech" / "videoretalking_1.wav"),
                "-o",
                str(out),
                "--quiet",
            ],
            check=True,
        )
        frames = read_video(out)
        portrait = Portrait.open(data / "portraits" / name, max_height=720)
        lm = portrait.landmarks[:, :2]
        c, s = lm[[61, 291, 17, 2]].mean(0), np.linalg.norm(lm[291] - lm[61]) * 0.9
        y0, x0 = int(max(c[1] - s, 0)), int(max(c[0] - s, 0))
        tiles = [
            cv2.resize(f[y0 : int(c[1] + s), x0 : int(c[0] + s)], (80, 80), interpolation=cv2.INTER_AREA)
            for f in frames[8 : 8 + 4 * 16 : 4]
        ]
        rows.append(np.concatenate(tiles, 1))
    return np.concatenate(rows, 0)


def read_video(path: Path) -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = p.parse_args()
    motion = load_motion(None)
    for name in PORTRAITS:
        img = sweep(name, args.data, motion)
        cv2.imwrite(
            str(HERE / f"sweep_{Path(name).stem}.jpg"),
            cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 85],
        )
    cv2.imwrite(
        str(HERE / "strip.jpg"),
        cv2.cvtColor(strip(args.data, motion), cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, 88],
    )
    with tempfile.TemporaryDirectory() as tmp:
        sheet = speech_sheet(args.data, Path(tmp))
    cv2.imwrite(str(HERE / "speech_sheet.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
