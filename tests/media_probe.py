"""Inspect a written video with the ffmpeg inside imageio-ffmpeg (no system ffprobe needed)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass
class Probe:
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    frames: int
    fps: float
    audio_seconds: float  # decoded samples / rate; 0 without audio

    @property
    def video_seconds(self) -> float:
        return self.frames / self.fps


def probe(path: Path) -> Probe:
    info = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    video = re.search(r"Stream #\S+.*Video: (\w+).*?, (\d+)x(\d+).*?, ([\d.]+) fps", info)
    audio = re.search(r"Stream #\S+.*Audio: (\w+)", info)
    frames = len(read_frames(path, 16)) if video else 0
    audio_seconds = 0.0
    if audio:
        pcm = subprocess.run(
            [_ffmpeg(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
            capture_output=True,
            check=True,
        ).stdout
        audio_seconds = len(pcm) / 2 / 16000
    return Probe(
        video[1] if video else None,
        audio[1] if audio else None,
        int(video[2]) if video else 0,
        int(video[3]) if video else 0,
        frames,
        float(video[4]) if video else 0.0,
        audio_seconds,
    )


def read_frames(path: Path, size: int | None = None) -> np.ndarray:
    """All frames as (N, H, W, 3) uint8 RGB, optionally scaled to size x size."""
    cmd = [_ffmpeg(), "-v", "error", "-i", str(path), "-an"]
    if size:
        cmd += ["-vf", f"scale={size}:{size}"]
    info = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    w, h = map(int, re.search(r"Video: .*?, (\d+)x(\d+)", info).groups())
    if size:
        w = h = size
    raw = subprocess.run(cmd + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
