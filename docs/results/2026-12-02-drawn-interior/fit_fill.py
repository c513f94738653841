"""How the drawn mouth interior's proportions were chosen: warp-only mouth crops of real
self-reenactment pairs (talkinghead.refiner_pairs, the renderer's own warp to the target's real
lips) scored against the real target frames, for settings of talkinghead.face.mouth.

    python docs/results/2026-12-02-drawn-interior/fit_fill.py '[{}, {"TONGUE": [0.55, 0.7]}]'
    python docs/results/2026-12-02-drawn-interior/fit_fill.py '[{}]' --held-out

Settings apply cumulatively, in order (a coordinate search). Fitted on ten training
speakers (--held-out: the eval speakers instead, for the report). Per setting: the
mean absolute error (0-255) inside the real inner lips, the Laplacian energy there over
the real mouth's, and the mean brightness inside the lips, warp / real, by opening size
(share of the 64 px crop). About 25 s per setting on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

# The folder is named after nothing importable, but keep the script from shadowing packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TUNE = (
    "ted_lieu",
    "vlogger_man_brickwall",
    "shorts_woman_darkhair",
    "w2lpaper_woman_auburn",
    "vlogger_venya_pak",
    "ko_lipreading_woman",
    "jen_psaki",
    "vidtimit_fadg0",
    "ben_shapiro",
    "accent_coach_woman_mic",
)
BINS = ((0.01, 0.04), (0.04, 0.08), (0.08, 0.13), (0.13, 1.0))


def score(path: Path) -> str:
    from gath.data import load_pairs
    from gath.losses import laplacian_energy

    b = load_pairs(path).pairs.as_float()
    m = b.mouth
    mae = ((b.warped - b.target).abs().mean(1, keepdim=True) * m).sum() / m.sum() * 127.5
    sharp = laplacian_energy(b.warped, m) / laplacian_energy(b.target, m)
    area = m.mean((1, 2, 3))

    def lum(x: torch.Tensor) -> torch.Tensor:
        return ((x.mean(1, keepdim=True) + 1) * 127.5 * m).sum((1, 2, 3)) / m.sum((1, 2, 3)).clamp(min=1e-3)

    cells = [
        f"{lum(b.warped)[(area >= lo) & (area < hi)].mean():.0f} / "
        f"{lum(b.target)[(area >= lo) & (area < hi)].mean():.0f}"
        for lo, hi in BINS
    ]
    return f"| {len(area)} | {mae:.2f} | {sharp:.2f} | " + " | ".join(cells) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("settings", help="JSON list of {CONSTANT: value} for talkinghead.face.mouth")
    p.add_argument("--prepared", default="/work/prepared")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--held-out", action="store_true", help="score the eval speakers instead of the fitting ones")
    args = p.parse_args()
    import talkinghead.face.mouth as mouth
    from talkinghead.evaluation.heldout import DEFAULT_SPEAKERS
    from talkinghead.refiner_pairs import build_pairs
    from talkinghead.renderers.warp import load_motion

    motion = load_motion(None)
    print(
        "| setting | pairs | mouth MAE | sharpness | " + " | ".join(f"brightness {lo}-{hi}" for lo, hi in BINS) + " |"
    )
    print("|---" * (4 + len(BINS)) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, setting in enumerate(json.loads(args.settings)):
            for name, value in setting.items():
                if not hasattr(mouth, name):
                    raise SystemExit(f"talkinghead.face.mouth has no {name}")
                setattr(mouth, name, tuple(value) if isinstance(value, list) else value)
            out = Path(tmp) / f"{i}.npz"
            speakers = list(DEFAULT_SPEAKERS if args.held_out else TUNE)
            build_pairs(args.prepared, args.data, out, motion, speakers=speakers, progress=False)
            print(f"| `{json.dumps(setting)}` " + score(out), flush=True)


if __name__ == "__main__":
    main()
