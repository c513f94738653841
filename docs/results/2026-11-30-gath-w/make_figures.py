"""Numbers and figures of docs/results/2026-11-30-gath-w (run from the repository root):

    python docs/results/2026-11-30-gath-w/make_figures.py REFINER.pt [REFINER.pt ...] [--pairs VAL.npz]
        [--data ../shared/data] [--prepared /work/prepared] [--out DIR]

With several refiners, each gets its own column (pairs) or row (sweeps) after warp-only,
and its own entry in mouth.json (the first one is "warp + GATH-W", the others are named by
their run folder). --out (default: this folder) is where the files go.

- mouth.json: on the held-out speakers' validation pairs (the trainer's `val_pairs`), the
  mouth-region error of warp-only and of warp + GATH-W against the real target (MAE, RMSE,
  0-255, inside the target's grown inner-lip region), and each one's mouth sharpness over
  the real mouth's (mean |Laplacian|; 1 = as sharp as the real one);
- pairs.jpg: 12 held-out pairs with open target mouths, mouth crops, columns source |
  warp-only | warp + GATH-W | real target, warped as a render does (the motion model from
  the target's AUs) and, right, to the target's real landmarks (as GATH-W trained);
- sweep_<portrait>.jpg: jawOpen, mouthFunnel and mouthSmile at 0, 0.5, 1 on six shared
  portraits, face crops, warp-only above warp + GATH-W.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from actionunits import AU_NAMES, AUSeries
from actionunits.prepared import clip_dir, landmarks_path, matches_any, read_clips
from audio2au.frame_measures import lip_gap
from gath.data import load_pairs
from talkinghead.clip_sources import list_clips, shared_data_inputs
from talkinghead.evaluation.heldout import DEFAULT_SPEAKERS
from talkinghead.evaluation.protocol import pixel_errors, sharpness_ratio
from talkinghead.face.mouth import mouth_crop
from talkinghead.portrait import Portrait
from talkinghead.refiner_pairs import read_frames
from talkinghead.renderers.gath_w import read_refiner
from talkinghead.renderers.warp import WarpAnimator, load_motion

HERE = Path(__file__).resolve().parent
PORTRAITS = (
    "liveportrait_s1.jpg",
    "liveportrait_s2_bw.jpg",
    "liveportrait_s12_bw.jpg",
    "video_retalking_5.png",
    "pcavs_voxceleb_00002.png",
    "grid_s1.png",
)
SWEEP = ("jawOpen", "mouthFunnel", "mouthSmileLeft")
HELD = tuple(s for s in DEFAULT_SPEAKERS if not s.startswith("clips__"))  # the prepared speakers held out
CELL = 96


def mouth_numbers(refiners: dict, pairs_path: Path) -> dict:
    """Mouth MAE/RMSE and sharpness of warp-only and warp + each refiner on validation pairs."""
    pair_set = load_pairs(pairs_path)
    p = pair_set.pairs
    warped = p.warped.permute(0, 2, 3, 1).numpy()
    target = p.target.permute(0, 2, 3, 1).numpy()
    opening = p.opening[:, 0].numpy().astype(np.float32) / 255
    parted = (np.maximum(p.opening, p.mouth)[:, 0].numpy() > 127).astype(np.uint8)
    region = np.stack([cv2.dilate(m, np.ones((5, 5), np.uint8)) for m in parted]).astype(bool)
    results = {"warp": warped}
    for label, refiner in refiners.items():
        refined = warped.copy()
        for i in range(0, len(warped), 256):
            colour, painted = refiner.run(warped[i : i + 256], opening[i : i + 256], p.aus[i : i + 256].numpy())
            w = painted[..., None]
            refined[i : i + 256] = np.clip(warped[i : i + 256] * (1 - w) + colour * w + 0.5, 0, 255).astype(np.uint8)
        results[label] = refined
    has = region.any((1, 2)) & (p.mouth[:, 0].numpy() > 127).any((1, 2))
    out = {"pairs": int(has.sum()), "speakers": sorted(set(pair_set.speakers[i] for i in p.speaker[has].tolist()))}
    for name, images in results.items():
        mae, rmse = pixel_errors(images[has], target[has], region[has])
        sharp = sharpness_ratio(images[has], target[has], region[has])
        out[name] = {
            "mouth_mae": float(mae.mean()),
            "mouth_rmse": float(rmse.mean()),
            "mouth_sharpness": float(np.nanmean(sharp)),
        }
    return out


def held_out_pairs(prepared: Path, data: Path, motion, n: int = 12, seed: int = 3) -> list[dict]:
    """n (source, target) frames of held-out clips with open target mouths, one per clip
    in turn: the source frame (closed mouth) and target frame, their landmarks and AUs."""
    _, targets, name_root = shared_data_inputs(data)
    paths = {t.clip: t.path for t in list_clips(targets, name_root)}
    rng = np.random.default_rng(seed)
    out = []
    clips = [c for c in read_clips(prepared) if matches_any(list(HELD), c.speaker) and c.clip in paths]
    for clip in rng.permutation(clips):
        lm = np.load(landmarks_path(prepared, clip.clip))
        aus = AUSeries.read_csv(clip_dir(prepared, clip.clip) / "aus.csv").values
        gap = lip_gap(lm)
        ok = np.flatnonzero(np.isfinite(gap[: len(aus)]))
        if len(ok) < 10:
            continue
        s, t = int(ok[np.argmin(gap[ok])]), int(ok[np.argmax(gap[ok])])
        frames = read_frames(paths[clip.clip], clip.fps, {s, t})
        out.append(
            {
                "source": frames[s],
                "target": frames[t],
                "lm_s": lm[s],
                "lm_t": lm[t],
                "aus_s": aus[s],
                "aus_t": aus[t],
                "clip": clip.clip,
            }
        )
        if len(out) == n:
            break
    return out


def pair_rows(pairs: list[dict], motion, refiners: list, size: int = 64) -> np.ndarray:
    rows = []
    for q in pairs:
        portrait = Portrait(q["source"], q["lm_s"], q["aus_s"])
        plain = WarpAnimator(portrait, motion)
        animators = [plain] + [WarpAnimator(portrait, motion, refiner=r) for r in refiners]
        real = mouth_crop(q["target"], q["lm_t"][:, :2], size)[1]
        cells = [mouth_crop(q["source"], q["lm_s"][:, :2], size)[1]]
        for moves in (None, plain.offsets_to(q["lm_t"][None])):
            plan = plain.plan(q["aus_t"][None], moves)
            points = plan.points[0]
            # draw works in place: each animator draws on its own copy of the warped frame
            cells += [
                mouth_crop(a.draw(replace(plan, frames=plan.frames.copy()))[0], points, size)[1] for a in animators
            ] + [real]
        rows.append(np.concatenate([cv2.resize(c, (CELL, CELL), interpolation=cv2.INTER_CUBIC) for c in cells], 1))
    return np.concatenate(rows, 0)


def sweep(name: str, data: Path, motion, refiners: list) -> np.ndarray:
    portrait = Portrait.open(data / "portraits" / name, max_height=720)
    lm = portrait.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm[[*range(468)]].min(0), lm[[*range(468)]].max(0)
    cy, cx, s = (y0 + 2 * y1) / 3, (x0 + x1) / 2, 0.7 * (x1 - x0)  # the lower face
    h, w = portrait.image.shape[:2]
    box = (
        slice(int(max(cy - s / 2, 0)), int(min(cy + s / 2, h))),
        slice(int(max(cx - s / 2, 0)), int(min(cx + s / 2, w))),
    )
    rows = []
    for animator in [WarpAnimator(portrait, motion)] + [WarpAnimator(portrait, motion, refiner=r) for r in refiners]:
        cells = []
        for au in SWEEP:
            aus = np.repeat(portrait.aus[None], 3, 0)
            aus[:, AU_NAMES.index(au)] = (0.0, 0.5, 1.0)
            cells += [cv2.resize(f[box], (CELL, CELL), interpolation=cv2.INTER_AREA) for f in animator.frames(aus)]
        rows.append(np.concatenate(cells, 1))
    return np.concatenate(rows, 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("refiners", type=Path, nargs="+")
    p.add_argument("--pairs", type=Path, default=Path("/work/runs/gath_w/pairs/val.npz"))
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--prepared", type=Path, default=Path("/work/prepared"))
    p.add_argument("--out", type=Path, default=HERE)
    args = p.parse_args()
    torch.set_num_threads(1)
    motion = load_motion(None)
    refiners = [read_refiner(r) for r in args.refiners]
    labels = ["warp + GATH-W"] + [f"warp + {r.parent.name}" for r in args.refiners[1:]]  # run folders name the others
    numbers = {
        "refiners": [str(r) for r in args.refiners],
        "steps": [r.steps for r in refiners],
        **mouth_numbers(dict(zip(labels, refiners)), args.pairs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mouth.json").write_text(json.dumps(numbers, indent=1) + "\n")
    print(json.dumps(numbers, indent=1))
    rgb = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2BGR)  # noqa: E731
    cv2.imwrite(
        str(args.out / "pairs.jpg"),
        rgb(pair_rows(held_out_pairs(args.prepared, args.data, motion), motion, refiners)),
        [cv2.IMWRITE_JPEG_QUALITY, 88],
    )
    for name in PORTRAITS:
        cv2.imwrite(
            str(args.out / f"sweep_{Path(name).stem}.jpg"),
            rgb(sweep(name, args.data, motion, refiners)),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )


if __name__ == "__main__":
    main()
