"""GATH-W's cost per frame: the refiner's GFLOPs per mouth crop, and the wall time it adds
to a warped 720 px frame (crop, network, paste-back), on this machine's CPU.

    python benchmarks/refiner.py [--weights DIR] [--size 720] [--frames 200] [--threads 1]

Budget: <= 8 ms per frame on 2 cores. In `render` each of the two frame
workers runs it with torch on one thread (`frame_loop_threads`), so the default is one
thread. Only frames with parted lips are refined; this times frames
whose jaw is open.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--weights",
        help="weights folder with refiner.pt (default: the shipped one; else an untrained "
        "refiner of the configured size)",
    )
    p.add_argument("--size", type=int, default=720)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from actionunits import AU_NAMES
    from gath.models import WarpRefiner
    from talkinghead.commands.demo import demo_photo
    from talkinghead.config import load_config
    from talkinghead.model_files import DEFAULT_WEIGHTS
    from talkinghead.portrait import Portrait
    from talkinghead.renderers.gath_w import REFINER_FILE, MouthRefiner, read_refiner
    from talkinghead.renderers.warp import WarpAnimator, load_motion

    torch.set_num_threads(args.threads)
    folder = Path(args.weights) if args.weights else DEFAULT_WEIGHTS
    if (folder / REFINER_FILE).is_file():
        refiner, what = read_refiner(folder / REFINER_FILE), f"{folder / REFINER_FILE}"
    else:
        cfg = load_config("train_gath_w")
        config = {"n_aus": len(AU_NAMES), **cfg.model.generator}
        refiner = MouthRefiner(WarpRefiner(**config), {"crop_size": cfg.refiner.crop_size, "au_names": AU_NAMES})
        what = f"untrained refiner {dict(cfg.model.generator)}"
    s = refiner.size
    with FlopCounterMode(display=False) as counter:
        refiner.model(torch.zeros(1, 3, s, s), torch.zeros(1, 1, s, s), torch.zeros(1, len(AU_NAMES)))
    portrait = Portrait.open(demo_photo(), height=args.size)
    plain = WarpAnimator(portrait, load_motion(None))
    refined = WarpAnimator(portrait, plain.motion, refiner=refiner)
    aus = np.repeat(portrait.aus[None], args.frames, 0)
    aus[:, AU_NAMES.index("jawOpen")] = np.linspace(0.3, 1.0, args.frames)
    times = {}
    for name, animator in (("warp", plain), ("warp + GATH-W", refined)):
        plan = plain.plan(aus)  # draw works in place: a fresh plan each
        animator.draw(plan[:4])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, args.frames, 8):
            animator.draw(plan[i : i + 8])
        times[name] = (time.perf_counter() - t0) / args.frames * 1000
    print(f"{what}: {counter.get_total_flops() / 1e9:.3f} GFLOPs per {s}x{s} mouth crop")
    print(
        f"draw per {portrait.size[0]}x{portrait.size[1]} frame, torch threads {args.threads}, open jaw: "
        f"warp {times['warp']:.1f} ms, warp + GATH-W {times['warp + GATH-W']:.1f} ms "
        f"(the refiner adds {times['warp + GATH-W'] - times['warp']:.1f} ms; budget 8)"
    )


if __name__ == "__main__":
    main()
