"""What the batch tests share: generated speech, manifests, the ledger, partial files, decoded
frames, waiting on a running batch, and starting one as a terminal would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from talkinghead.batch.ledger import LEDGER

SR = 16000


def speech_like(path: Path, seconds: float, pitch: float = 180.0) -> Path:
    """A voiced tone whose loudness rises and falls 4 times a second (not silent, not speech)."""
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * pitch * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2).astype(np.float32), SR)
    return path


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def ledger(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / LEDGER).read_text().splitlines()]


def partial_files(outdir: Path) -> list[str]:
    """Hidden files a render writes before it renames them (the lock is not one)."""
    return [p.name for p in outdir.rglob(".*") if p.is_file() and p.name != ".batch.lock"]


def frames(video: Path) -> bytes:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def wait_until(done: Callable[[], object], proc: subprocess.Popen, timeout: float = 180.0) -> object:
    """Poll `done` while the batch `proc` runs; its first true value."""
    t0 = time.monotonic()
    while not (value := done()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)
    return value


def as_from_a_terminal() -> None:
    """Ctrl+C's default action in a started batch (`preexec_fn`): a shell that ran the test
    suite in the background (`cmd &`) leaves SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
