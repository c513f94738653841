"""Sustained fps and audio-to-frame latency of `talkinghead live`.

    python benchmarks/live.py                       # CPU, warp renderer, 20 s of speech
    python benchmarks/live.py --generator gath --device cuda   # the GATH generator on a GPU
    python benchmarks/live.py --mic                 # the default input device instead of a file

The session is the real one (`talkinghead.live.run_live`: streaming audio2au, the
renderer, the web page's JPEG encoding); only the source differs: the bundled speech,
looped, delivered in 20 ms chunks at the pace a microphone would deliver it. Latency is
measured per shown frame from the moment the audio sample at the frame's centre was
captured to the moment the frame was handed to the display; its floor is the model's
look-ahead (printed as "algorithmic"). Targets: CPU warp renderer >= 25 fps at a median
<= 200 ms; GATH on a GPU >= 25 fps, <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="length of the session (default 20)")
    from talkinghead.renderers import names
    from talkinghead.renderers.registry import DEFAULT

    p.add_argument("--generator", default=DEFAULT, choices=names())
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--lite", action="store_true", help="gath: the lite generator also on CUDA (always on CPU)")
    p.add_argument("--photo", help="portrait (default: the bundled demo photo)")
    p.add_argument("--size", type=int, help="frame height (default: the photo's, at most 480)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--head-motion", type=float, help="--head-motion S (default: live's own, 1 = natural)")
    p.add_argument("--mic", action="store_true", help="record from the default input device")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = p.parse_args()

    from dataclasses import replace

    import torch

    from audio2au import load_audio
    from talkinghead.commands.demo import SPEECH, demo_photo
    from talkinghead.live import LiveOptions, run_live
    from talkinghead.live.audio_input import BLOCK_S, FileSource, MicSource
    from talkinghead.renderers import ModelOptions

    defaults = LiveOptions()
    head = defaults.post.head_motion if args.head_motion is None else args.head_motion
    options = LiveOptions(
        model=ModelOptions(args.generator, device=args.device, lite=args.lite),
        post=replace(defaults.post, head_motion=head),
        size=args.size,
        fps=args.fps,
        window=False,
        serve="127.0.0.1:0",
        duration=args.seconds + (3 if args.mic else 0),
        quiet=True,
    )
    wav = load_audio(SPEECH)
    source = MicSource() if args.mic else FileSource(np.resize(wav, int(args.seconds * 16000)), "bundled speech")
    frame_shape: list[int] = []

    def keep_shape(frame) -> None:
        if not frame_shape:
            frame_shape.extend(frame.image.shape[:2])

    result = run_live(args.photo or demo_photo(), options, source=source, on_frame=keep_shape)
    lat = np.asarray(result.latencies) * 1000
    numbers = {
        "device": result.generator,
        "torch_threads": torch.get_num_threads(),
        "frame": frame_shape,
        "seconds": round(result.seconds, 2),
        "frames_shown": result.frames,
        "frames_dropped": result.dropped,
        "fps": round(result.fps, 2),
        "latency_ms_median": round(float(np.median(lat)), 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "latency_ms_max": round(float(lat.max()), 1),
        "algorithmic_ms": round(1000 * result.algorithmic_latency, 1),
        "chunk_ms": 1000 * BLOCK_S,
        "source": "microphone" if args.mic else "file at real-time pace",
    }
    print(
        f"live on {numbers['device']}, {numbers['frame'][1]}x{numbers['frame'][0]} frames, "
        f"{numbers['source']}, {result.seconds:.1f} s:"
    )
    print(f"  sustained fps       {numbers['fps']:.1f}   ({result.frames} shown, {result.dropped} dropped)")
    print(
        f"  audio-to-frame      median {numbers['latency_ms_median']:.0f} ms, p95 {numbers['latency_ms_p95']:.0f} ms"
        f", max {numbers['latency_ms_max']:.0f} ms"
    )
    print(
        f"  of which algorithmic {numbers['algorithmic_ms']:.0f} ms (audio2au look-ahead + feature window), "
        f"chunks {numbers['chunk_ms']:.0f} ms"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
