"""Batch throughput: audio-seconds rendered per wall second, for 1 and 2 local worker
processes and for Ray with one node against two nodes started on this machine (1 CPU each),
with the scaling efficiency (rate of 2 / (2 x rate of 1)) and the rerun's share of the first
run (nothing left to render). Whole commands, start-up included, as a user runs them.

    python benchmarks/batch.py                    # local pool only
    python benchmarks/batch.py --ray              # and Ray, 1 and 2 nodes (pip install '.[cluster]')
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

# run as a script: keep benchmarks/ off the path so `talkinghead` is the installed package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parents[1]
SR = 16000


def manifest(folder: Path, photos: list[Path], jobs: int, seconds: float) -> Path:
    """`jobs` jobs over `photos` (one presenter, several audios each), speech-like tones."""
    rows = ["photo,audio,output"]
    t = np.arange(int(seconds * SR)) / SR
    for i in range(jobs):
        wav = folder / f"a{i}.wav"
        tone = 0.3 * np.sin(2 * np.pi * (160 + 10 * i) * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2
        sf.write(wav, tone.astype(np.float32), SR)
        rows.append(f"{photos[i * len(photos) // jobs]},{wav},job{i}.mp4")
    path = folder / "jobs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def batch(jobs: Path, out: Path, *extra: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "talkinghead.cli", "batch", str(jobs), "-o", str(out), "--json", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"batch failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0, json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cluster(nodes: int) -> tuple[str, list[list[str]]]:
    """A head (and more nodes) on this machine, 1 CPU each; its address and stop commands."""
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    head = ["--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard", "false"]
    subprocess.run([ray, "start", *head, *common], check=True, capture_output=True)
    for _ in range(nodes - 1):
        temp = tempfile.mkdtemp(prefix="ray-node-")
        node = ["--address", address, "--node-ip-address", "127.0.0.1", "--temp-dir", temp]
        subprocess.run([ray, "start", *node, *common], check=True, capture_output=True)
    return address, [[ray, "stop", "--force"]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=6)
    p.add_argument("--seconds", type=float, default=6.0, help="audio per job (default 6)")
    p.add_argument("--ray", action="store_true", help="also Ray with 1 and 2 nodes")
    p.add_argument("--data", default=os.environ.get("TALKINGHEAD_DATA", str(REPO.parent / "shared" / "data")))
    args = p.parse_args()
    portraits = Path(args.data) / "portraits"
    photos = [portraits / "video_retalking_5.png", portraits / "liveportrait_s1.jpg"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = manifest(tmp, photos, args.jobs, args.seconds)
        audio = args.jobs * args.seconds
        rates = {}
        for name, extra in [("local, 1 worker", ["--workers", "1"]), ("local, 2 workers", ["--workers", "2"])]:
            out = tmp / name.replace(" ", "").replace(",", "_")
            wall, _ = batch(jobs, out, *extra)
            rerun, summary = batch(jobs, out, *extra)
            assert summary["skipped"] == args.jobs, summary
            rates[name] = audio / wall
            print(f"{name:18s} {wall:6.1f} s  {rates[name]:5.2f} audio-s/s   rerun {rerun:4.1f} s ({rerun / wall:.0%})")
        print(f"local scaling efficiency: {rates['local, 2 workers'] / (2 * rates['local, 1 worker']):.2f}")
        if args.ray:
            for nodes in (1, 2):
                address, stops = ray_cluster(nodes)
                try:
                    name = f"ray, {nodes} node{'s' if nodes > 1 else ''}"
                    wall, _ = batch(jobs, tmp / f"ray{nodes}", "--ray", "--ray-address", address)
                    rates[name] = audio / wall
                    print(f"{name:18s} {wall:6.1f} s  {rates[name]:5.2f} audio-s/s")
                finally:
                    for stop in stops:
                        subprocess.run(stop, capture_output=True)
            print(f"ray scaling efficiency: {rates['ray, 2 nodes'] / (2 * rates['ray, 1 node']):.2f}")


if __name__ == "__main__":
    main()
