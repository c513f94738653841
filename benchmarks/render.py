"""Real-time factor of `talkinghead render`: wall time of the whole command (start-up, model
loading and face set-up included) / audio seconds, and the time of each stage.

    python benchmarks/render.py                          # 180 s of speech, 720 px, warp renderer
    python benchmarks/render.py --seconds 30 --generator gath
    python benchmarks/render.py --memory                 # peak RSS for 30 s and 180 s (flat = streamed)
    python benchmarks/render.py --head-cost 4 --seconds 30   # head motion vs --head-motion 0, alternating pairs

The command runs as a user would run it, in a subprocess: the bundled demo portrait scaled
to `--size` px high and the bundled speech looped to `--seconds`. Targets: RTF
<= 0.5 on an otherwise idle 2-core machine (goal 0.25), memory flat in audio length, head
motion costing <= 15 % over `--head-motion 0` (median of alternating pairs). Stages
overlap (`frames` and `draw` are summed over the frame workers, encoding runs in the writer
thread and ffmpeg beside them), so they do not add up to the total. The CPU row (user +
system seconds of the render and its ffmpeg) moves less than wall time on a shared
machine: it says what the work costs, the wall row what a user waits.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
STAGE_LINE = re.compile(r"^\s+([A-Za-z][\w -]*?)\s+([\d.]+) s$")


def speech(seconds: float, folder: Path) -> Path:
    from talkinghead.commands.demo import SPEECH

    wav, sr = sf.read(SPEECH, dtype="float32")
    out = folder / f"speech_{seconds:g}s.wav"
    sf.write(out, np.resize(wav, int(seconds * sr)), sr, subtype="PCM_16")
    return out


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


def run_render(seconds: float, folder: Path, args: argparse.Namespace, head_motion: float | None = None) -> dict:
    """One `talkinghead render` in a subprocess: wall seconds, CPU seconds (it and its
    ffmpeg, all cores), stage seconds, peak RSS."""
    from talkinghead.commands.demo import demo_photo

    cmd = [
        sys.executable,
        "-m",
        "talkinghead.cli",
        "render",
        "--photo",
        str(demo_photo()),
        "--audio",
        str(speech(seconds, folder)),
        "-o",
        str(folder / "bench.mp4"),
        "--size",
        str(args.size),
        "--generator",
        args.generator,
        "--device",
        args.device,
        *([] if head_motion is None else ["--head-motion", f"{head_motion:g}"]),
    ]
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid))
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"render failed: {stderr.strip().splitlines()[-1]}")
    stages = {m.group(1): float(m.group(2)) for line in stderr.splitlines() if (m := STAGE_LINE.match(line))}
    return {"wall": wall, "cpu": cpu, "stages": stages, "summary": stdout.strip(), "peak_rss_mb": peak}


def cpu_seconds() -> float:
    """User + system seconds of the finished children, their own children (ffmpeg) included."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0, help="speech length (default 180)")
    p.add_argument("--size", type=int, default=720, help="output height (default 720)")
    from talkinghead.renderers import names
    from talkinghead.renderers.registry import DEFAULT

    p.add_argument("--generator", default=DEFAULT, choices=names())
    p.add_argument("--device", default="cpu")
    p.add_argument("--memory", action="store_true", help="peak RSS of 30 s and 180 s renders, each its own process")
    p.add_argument(
        "--head-cost", type=int, metavar="PAIRS", help="wall time with head motion over --head-motion 0, in PAIRS pairs"
    )
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="th-bench-") as tmp:
        if args.head_cost:
            ratios = []
            for i in range(args.head_cost):
                moving = run_render(args.seconds, Path(tmp), args)
                still = run_render(args.seconds, Path(tmp), args, 0.0)
                ratios.append(moving["wall"] / still["wall"])
                print(
                    f"pair {i + 1}: RTF {moving['wall'] / args.seconds:.3f} with head motion, "
                    f"{still['wall'] / args.seconds:.3f} at --head-motion 0, ratio {ratios[-1]:.3f}"
                )
            print(f"head motion costs x{np.median(ratios):.3f} (median of {len(ratios)} pairs; target <= 1.15)")
            return
        if args.memory:
            for seconds in (30.0, 180.0):
                r = run_render(seconds, Path(tmp), args)
                print(f"{seconds:>5.0f} s of audio: peak RSS {r['peak_rss_mb']:.0f} MB, RTF {r['wall'] / seconds:.3f}")
            return
        r = run_render(args.seconds, Path(tmp), args)
    rtf = r["wall"] / args.seconds
    print(
        f"talkinghead render, {args.seconds:.0f} s of speech, {args.size} px, {args.generator}, {args.device}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  {r['summary']}")
    print("| stage | seconds | per audio second |\n|---|---|---|")
    for stage, s in r["stages"].items():
        print(f"| {stage} | {s:.2f} | {s / args.seconds:.3f} |")
    print(f"| **whole command (wall)** | **{r['wall']:.2f}** | **RTF {rtf:.3f}** |")
    print(
        f"| CPU, all cores (render + ffmpeg) | {r['cpu']:.2f} | {r['cpu'] / args.seconds:.3f} "
        f"({r['cpu'] / r['wall']:.2f} cores busy) |"
    )
    print(f"peak RSS of the render process: {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
