"""Contact sheets of docs/results/2026-12-06-lips (run from the repository root):

    python docs/results/2026-12-06-lips/make_sheets.py [--data ../shared/data] [--checkpoint DIR] [--tag NAME]

mouths_<tag>.jpg: one row per shared portrait, one for each kind of mouth a photo shows
(closed, parted, smiling with the lips apart, open), each rendered through `render` with
the same 5 s of speech; the columns are the first frame (silence), then every 5th frame of
the speech, lower face only, with the rendered inner-lip gap (face mesh) under each.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from talkinghead.commands.render import RenderOptions, render
from talkinghead.evaluation.lips import video_lip_gap
from talkinghead.io.video_frames import VideoFrames
from talkinghead.portrait import Portrait
from talkinghead.renderers.registry import ModelOptions

HERE = Path(__file__).resolve().parent
PORTRAITS = {  # the mouth each photo shows
    "liveportrait_s12_bw.jpg": "closed",
    "video_retalking_5.png": "parted",
    "liveportrait_s1.jpg": "smiling, teeth",
    "video_retalking_2.png": "open",
    "pcavs_voxceleb_00373.png": "wide open",
}
SPEECH = "speech/videoretalking_1.wav"
CELL, STEP, COLUMNS = 112, 5, 14


def lower_face(portrait: Portrait) -> tuple[slice, slice]:
    """A square around the mouth and chin (nose tip to below the chin)."""
    lm = portrait.landmarks[:, :2]
    x0, x1 = lm[:, 0].min(), lm[:, 0].max()
    y0, y1 = lm[1, 1], lm[152, 1]
    s = max(x1 - x0, (y1 - y0) * 1.6)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = portrait.image.shape[:2]
    return slice(int(max(cy - s / 2, 0)), int(min(cy + s / 2, h))), slice(
        int(max(cx - s / 2, 0)), int(min(cx + s / 2, w))
    )


def row(name: str, kind: str, data: Path, options: RenderOptions, work: Path) -> np.ndarray:
    video = work / f"{Path(name).stem}.mp4"
    render(data / "portraits" / name, data / SPEECH, video, options)
    portrait = Portrait.open(data / "portraits" / name, max_height=720)
    box = lower_face(portrait)
    gaps = video_lip_gap(video)
    frames = list(VideoFrames(video))
    picks = [0, *range(STEP, len(frames), STEP)][:COLUMNS]
    cells = []
    for i in picks:
        cell = cv2.resize(frames[i][box], (CELL, CELL), interpolation=cv2.INTER_AREA)
        label = np.full((16, CELL, 3), 255, np.uint8)
        text = f"{i / 25:.1f}s {gaps[i]:.3f}" if np.isfinite(gaps[i]) else f"{i / 25:.1f}s -"
        cv2.putText(label, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        cells.append(np.concatenate([cell, label], 0))
    title = np.full((16, CELL * len(cells), 3), 235, np.uint8)
    cv2.putText(title, f"{name}: {kind}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([title, np.concatenate(cells, 1)], 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights folder or audio2au.pt")
    parser.add_argument("--tag", default="now")
    args = parser.parse_args()
    options = RenderOptions(model=ModelOptions(checkpoint=args.checkpoint), quiet=True)
    with tempfile.TemporaryDirectory() as work:
        rows = [row(name, kind, args.data, options, Path(work)) for name, kind in PORTRAITS.items()]
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    out = HERE / f"mouths_{args.tag}.jpg"
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
