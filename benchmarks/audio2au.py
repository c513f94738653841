"""audio2au speed on CPU: offline AU frames per second, and streaming compute per 20 ms
chunk with the algorithmic latency it implies (model look-ahead + feature look-ahead + chunk).

    python benchmarks/audio2au.py [--offline CKPT] [--stream CKPT] [--threads 1] [--fps 25]

Without checkpoints it times untrained networks of the shipped configs (same cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# audio2au package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from actionunits import AU_NAMES  # noqa: E402
from audio2au.checkpoint import load_audio2au  # noqa: E402
from audio2au.features import SAMPLE_RATE, FeatureConfig, compute_features, frame_count  # noqa: E402
from audio2au.model import Audio2AU, Audio2AUNet  # noqa: E402
from audio2au.predict import predict_aus  # noqa: E402
from audio2au.stream import AUStream  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "audio2au"


def shipped_model(variant: str) -> Audio2AU:
    feats = FeatureConfig(**yaml.safe_load((CONFIGS / "features" / "logmel.yaml").read_text()))
    config = {
        "n_features": feats.dim,
        "window": feats.window,
        "n_aus": len(AU_NAMES),
        **yaml.safe_load((CONFIGS / "model" / f"{variant}.yaml").read_text()),
    }
    return Audio2AU(Audio2AUNet(**config).eval(), feats, AU_NAMES, 25.0, {"model": config})


def test_audio(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    env = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None)
    return (0.3 * env * np.sin(2 * np.pi * 140 * t) + 0.01 * rng.normal(size=len(t))).astype(np.float32)


def bench_offline(model: Audio2AU, wav: np.ndarray, fps: float) -> None:
    n = frame_count(len(wav), fps)
    predict_aus(model, wav[:SAMPLE_RATE], fps)  # warm-up
    t0 = time.perf_counter()
    predict_aus(model, wav, fps)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    compute_features(wav, fps, n + model.net.lookahead, model.features)
    features = time.perf_counter() - t0
    print(
        f"offline ({'bi' if model.net.bidirectional else 'uni'}directional): {len(wav) / SAMPLE_RATE:.0f} s "
        f"of audio -> {n} frames in {total:.3f} s = {n / total:,.0f} AU frames/s "
        f"({total / (len(wav) / SAMPLE_RATE) * 1000:.1f} ms per second of audio, of which features "
        f"{features / total:.0%})"
    )


def bench_stream(model: Audio2AU, wav: np.ndarray, fps: float, chunk_ms: float = 20.0) -> None:
    chunk = int(SAMPLE_RATE * chunk_ms / 1000)
    stream = AUStream(model, fps)
    times, frames = [], 0
    for i in range(0, len(wav) - chunk + 1, chunk):
        t0 = time.perf_counter()
        frames += len(stream.push(wav[i : i + chunk]))
        times.append(time.perf_counter() - t0)
    ms = np.array(times[5:]) * 1000
    latency = stream.latency_s * 1000
    print(
        f"streaming ({chunk_ms:.0f} ms chunks, look-ahead {model.net.lookahead} frames at {fps:g} fps): "
        f"compute per chunk mean {ms.mean():.2f} ms, p50 {np.percentile(ms, 50):.2f}, p95 {np.percentile(ms, 95):.2f}, "
        f"max {ms.max():.2f} ms ({ms.mean() / chunk_ms:.0%} of real time); {frames} frames emitted"
    )
    print(
        f"algorithmic latency: model look-ahead {model.net.lookahead / fps * 1000:.0f} ms + feature look-ahead "
        f"{model.features.right / SAMPLE_RATE * 1000:.1f} ms = {latency:.1f} ms, + {chunk_ms:.0f} ms chunk = "
        f"{latency + chunk_ms:.1f} ms (+ compute {ms.mean():.1f} ms)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--offline", help="offline (bidirectional) checkpoint; default: untrained shipped config")
    p.add_argument("--stream", help="streaming (unidirectional) checkpoint; default: untrained shipped config")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--seconds", type=float, default=60.0, help="audio length for the offline run")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s)")
    offline = load_audio2au(args.offline) if args.offline else shipped_model("offline")
    streaming = load_audio2au(args.stream) if args.stream else shipped_model("stream")
    with torch.inference_mode():
        bench_offline(offline, test_audio(args.seconds), args.fps)
        bench_offline(streaming, test_audio(args.seconds), args.fps)
        bench_stream(streaming, test_audio(10.0), args.fps)


if __name__ == "__main__":
    main()
