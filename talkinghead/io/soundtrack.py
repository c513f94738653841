"""Extract a video's audio track as 16 kHz mono PCM16 WAV with the ffmpeg that
imageio-ffmpeg bundles (no system ffmpeg needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from actionunits.atomic import atomic_output
from talkinghead.errors import UserError

SAMPLE_RATE = 16000


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(*args: str) -> list[str]:
    """imageio-ffmpeg's ffmpeg, quiet but for errors, overwriting its output, with `args`."""
    return [_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args]


def has_audio(path: str | os.PathLike) -> bool:
    """Whether the media file has at least one audio stream."""
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    return any("Audio:" in line for line in proc.stderr.splitlines() if "Stream #" in line)


def extract_audio(video: str | os.PathLike, wav: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> None:
    """Write the audio of `video` to `wav` (mono PCM16 at `sample_rate`), atomically.

    Raises UserError when the file is missing, has no audio track, or cannot be decoded.
    """
    video, wav = Path(video), Path(wav)
    if not video.is_file():
        raise UserError(f"video not found: {video}")
    if not has_audio(video):
        raise UserError(f"{video} has no audio track")
    wav.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(wav, ".wav") as tmp:
        proc = subprocess.run(
            ffmpeg_command(
                "-i",
                str(video),
                "-vn",
                "-ac",
                "1",
                "-ar",
                str(sample_rate),
                "-c:a",
                "pcm_s16le",
                "-f",
                "wav",
                str(tmp),
            ),
            capture_output=True,
            text=True,
            errors="replace",
        )
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
            msg = (proc.stderr.strip().splitlines() or ["no audio samples decoded"])[-1]
            raise UserError(f"cannot extract the audio of {video}: {msg}")
