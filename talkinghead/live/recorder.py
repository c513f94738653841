"""`--record out.mp4`: the session's frames as H.264 with the microphone audio muxed.

Each shown frame is written once per AU frame it stands for (dropped frames repeat the
newer image), so the video keeps the audio's timeline. Frames stream to ffmpeg and the
audio to a WAV beside the output while the session runs; `finish` muxes the two into a
temp file and renames it, so Ctrl+C still leaves a complete video and a crash none.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from actionunits.atomic import atomic_output, temp_beside
from audio2au.features import SAMPLE_RATE
from talkinghead.errors import UserError
from talkinghead.io.soundtrack import ffmpeg_command
from talkinghead.io.video import VIDEO_SUFFIXES, VideoWriter, check_output_path


class Recorder:
    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: float) -> None:
        self.path = check_output_path(path, VIDEO_SUFFIXES)
        self._video_path = temp_beside(self.path, ".video.mp4")
        self._wav_path = temp_beside(self.path, ".wav")
        self._video = VideoWriter(self._video_path, size, fps, preset="ultrafast")  # leaves the CPU to the model
        self._wav = sf.SoundFile(self._wav_path, "w", SAMPLE_RATE, 1, "PCM_16")
        self.frames = 0

    def add_audio(self, samples: np.ndarray) -> None:
        self._wav.write(samples)

    def add_frame(self, image: np.ndarray, repeat: int = 1) -> None:
        self._video.write(np.repeat(image[None], repeat, axis=0))
        self.frames += repeat

    def finish(self) -> Path | None:
        """Mux and rename; None (and nothing written) when no frame was recorded."""
        try:
            self._wav.close()
            if self.frames == 0:
                self._video.abort()
                return None
            self._video.close()
            with atomic_output(self.path) as tmp:
                proc = subprocess.run(
                    ffmpeg_command(
                        "-i",
                        str(self._video_path),
                        "-i",
                        str(self._wav_path),
                        "-map",
                        "0:v:0",
                        "-map",
                        "1:a:0",
                        "-c:v",
                        "copy",
                        "-c:a",
                        "aac",
                        "-b:a",
                        "128k",
                        "-movflags",
                        "+faststart",
                        "-f",
                        "mp4",
                        str(tmp),
                    ),
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    lines = proc.stderr.strip().splitlines()
                    raise UserError(f"ffmpeg could not write {self.path}: {lines[-1] if lines else proc.returncode}")
            return self.path
        finally:
            self._video_path.unlink(missing_ok=True)
            self._wav_path.unlink(missing_ok=True)

    def abort(self) -> None:
        try:
            self._wav.close()
            self._video.abort()
        finally:
            self._video_path.unlink(missing_ok=True)
            self._wav_path.unlink(missing_ok=True)
