"""Real-time factor of `talkinghead render` per stage (processing seconds / audio seconds).

    python benchmarks/render.py                      # 10 s on CPU, shipped weights or untrained ones of the shipped sizes
    python benchmarks/render.py --device cuda --size 720
    python benchmarks/render.py --memory             # peak RSS for 10 s and 60 s of audio (flat = streamed)

The input is the bundled demo (matplotlib's Grace Hopper portrait + the espeak-ng speech
looped to the requested length). Without trained weights the generator and audio2au are
untrained models of the shipped configs (configs/model/generator/{default,lite}.yaml,
configs/audio2au/model/offline.yaml): speed does not depend on what a model has learned.
Stages overlap (the encoder runs in its own thread), so they do not add up to the total.
On a shared machine wall times depend on the neighbours' load; the CPU seconds do not, and
"RTF on 2 idle cores" = max(main-thread CPU, all CPU / 2) / audio seconds estimates it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[1]
# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
STAGES = ("model", "face", "audio", "AU", "frames", "enhance", "paste-back", "encode")


def speech(seconds: float, folder: Path) -> Path:
    from talkinghead.demo import SPEECH

    wav, sr = sf.read(SPEECH, dtype="float32")
    n = int(seconds * sr)
    out = folder / f"speech_{seconds:g}s.wav"
    sf.write(out, np.resize(wav, n), sr, subtype="PCM_16")
    return out


def untrained(folder: Path, generator: str) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_weights import make_tiny_weights

    g = yaml.safe_load((REPO / "configs" / "model" / "generator" / f"{generator}.yaml").read_text())
    a = yaml.safe_load((REPO / "configs" / "audio2au" / "model" / "offline.yaml").read_text())
    return make_tiny_weights(folder / generator, generator=g, audio2au=a)


def one_render(checkpoint: Path | None, audio: Path, out: Path, args: argparse.Namespace) -> dict:
    from gath.postprocess import Enhance
    from talkinghead.demo import demo_photo
    from talkinghead.render import RenderOptions, render

    options = RenderOptions(size=args.size, device=args.device, batch_size=args.batch_size, checkpoint=checkpoint,
                            quiet=True, enhance=Enhance() if args.enhance else None)
    cpu0, main0 = cpu_seconds(), time.thread_time()
    r = render(demo_photo(), audio, out, options)
    cpu, main_cpu = cpu_seconds() - cpu0, time.thread_time() - main0
    # On a shared machine wall time depends on the neighbours; CPU time does not. The main
    # thread (decoder) and the rest (paste-back, ffmpeg) run side by side on 2 cores.
    idle_estimate = max(main_cpu, cpu / 2)
    return {"seconds": r.seconds, "media": r.media_seconds, "rtf": r.rtf, "frames": r.frames, "device": r.device,
            "generator": r.generator, "stages": r.stages, "cpu": cpu, "main_cpu": main_cpu,
            "idle_rtf": idle_estimate / r.media_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (ffmpeg)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def table(rows: dict[str, dict]) -> str:
    names = list(rows)
    lines = ["| stage | " + " | ".join(f"{n} s | {n} RTF" for n in names) + " |",
             "|---|" + "---|---|" * len(names)]
    for stage in STAGES:
        if not any(stage in r["stages"] for r in rows.values()):
            continue
        cells = []
        for r in rows.values():
            s = r["stages"].get(stage)
            cells.append("-  | -" if s is None else f"{s:.2f} | {s / r['media']:.3f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| **total (wall)** | " + " | ".join(f"**{r['seconds']:.2f}** | **{r['rtf']:.3f}**"
                                                  for r in rows.values()) + " |")
    lines.append("| CPU s: all / main thread | " + " | ".join(f"{r['cpu']:.1f} / {r['main_cpu']:.1f} | "
                                                            for r in rows.values()) + " |")
    lines.append("| RTF on 2 idle cores (est.) | " + " | ".join(f" | {r['idle_rtf']:.3f}" for r in rows.values())
                 + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=512, help="output height")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--checkpoint", type=Path, help="weights folder (default: shipped, else untrained default + lite)")
    p.add_argument("--enhance", action="store_true")
    p.add_argument("--memory", action="store_true", help="peak RSS of 10 s and 60 s renders, each in its own process")
    p.add_argument("--json", action="store_true", help="print one JSON result (used by --memory)")
    args = p.parse_args()

    from talkinghead.checkpoints import DEFAULT_WEIGHTS, GENERATOR_FILE

    with tempfile.TemporaryDirectory(prefix="th-bench-") as tmp:
        tmp = Path(tmp)
        if args.memory:
            for seconds in (10, 60):
                cmd = [sys.executable, __file__, "--json", "--seconds", str(seconds), "--device", args.device,
                       "--size", str(args.size)] + (["--checkpoint", str(args.checkpoint)] if args.checkpoint else [])
                r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                print(f"{seconds:>3} s of audio: peak RSS {r['peak_rss_mb']:.0f} MB, RTF {r['rtf']:.3f}")
            return
        if args.checkpoint is not None:
            checkpoints = {"given": args.checkpoint}
        elif (DEFAULT_WEIGHTS / GENERATOR_FILE).is_file():
            checkpoints = {"shipped": None}
        else:
            checkpoints = {g: untrained(tmp, g) for g in ("default", "lite")}
        audio = speech(args.seconds, tmp)
        rows = {name: one_render(ckpt, audio, tmp / f"{name}.mp4", args) for name, ckpt in checkpoints.items()}
        if args.json:
            print(json.dumps(next(iter(rows.values()))))
            return
        first = next(iter(rows.values()))
        weights = ", ".join(f"{n} ({r['generator']})" for n, r in rows.items())
        print(f"render of {first['media']:.1f} s of audio, {args.size} px high, device {first['device']}, "
              f"{first['frames']} frames; weights: {weights}; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        print(table(rows))


if __name__ == "__main__":
    main()
