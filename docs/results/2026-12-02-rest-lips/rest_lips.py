"""The rest frame of photos with parted lips, two ways: every lip-opening AU at 0 (before,
A) and only talkinghead.portrait.CLOSING_AUS at 0, the upper lip's raise kept (after, B).
Prints the rest frame's inner-lip gap (eye distances) and dlib's identity distance to the
photo (the shared `look` tools' evaluator venv, /tmp/th-eval/venv), writes rest_lips.jpg
(rows: portraits; columns: photo, A, B).

    python docs/results/2026-12-02-rest-lips/rest_lips.py   # from the repo root, in its venv
"""

import json
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from audio2au.frame_measures import LIP_OPENING_AUS
from talkinghead.face.align import anchor_points
from talkinghead.face.mouth import inner_lip_gap
from talkinghead.portrait import Portrait
from talkinghead.renderers.warp import WarpAnimator, load_motion
from talkinghead.rest_face import CLOSING_AUS

PORTRAITS = (
    "liveportrait_s1.jpg",
    "video_retalking_2.png",
    "video_retalking_5.png",
    "pcavs_voxceleb_00002.png",
    "video_retalking_4.png",
    "pcavs_voxceleb_00373.png",
)
EVALUATOR = ["/tmp/th-eval/venv/bin/python", "../shared/tools/thevals.py", "identity"]


def identity(photo: Path, image: np.ndarray) -> float:
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        cv2.imwrite(f.name, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        out = subprocess.run([*EVALUATOR, str(photo), f.name], capture_output=True, text=True).stdout
    d = json.loads(out)["dist_mean"]
    return float("nan") if d is None else d


def zeroed(portrait: Portrait, names: tuple[str, ...]) -> np.ndarray:
    aus = portrait.aus.copy()
    aus[[portrait.names.index(n) for n in names]] = 0.0
    return aus


def main() -> None:
    motion = load_motion(None)
    rows = []
    for name in PORTRAITS:
        path = Path("../shared/data/portraits") / name
        portrait = Portrait.open(path, max_height=720)
        animator = WarpAnimator(portrait, motion)
        eyes = anchor_points(portrait.landmarks)
        eye = np.linalg.norm(eyes[1] - eyes[0])
        centre = portrait.landmarks[[61, 291, 0, 17], :2].mean(0).astype(int)  # lip corners, outer midpoints
        half = int(eye * 0.9)
        line, crops = [name, f"gap {portrait.lip_gap:.3f}"], []
        for label, aus in (
            ("photo", portrait.aus),
            ("A_all", zeroed(portrait, LIP_OPENING_AUS)),
            ("B_noUpper", zeroed(portrait, CLOSING_AUS)),
        ):
            plan = animator.plan(aus[None])
            frame = animator.draw(plan)[0]
            line.append(f"{label}: gap {inner_lip_gap(plan.points[0]) / eye:.3f} id {identity(path, frame):.3f}")
            y0, x0 = max(centre[1] - half // 2, 0), max(centre[0] - half, 0)
            crops.append(cv2.resize(frame[y0 : centre[1] + half // 2, x0 : centre[0] + half], (240, 120)))
        rows.append(np.concatenate(crops, 1))
        print(" | ".join(line), flush=True)
    out = "docs/results/2026-12-02-rest-lips/rest_lips.jpg"
    cv2.imwrite(out, cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
