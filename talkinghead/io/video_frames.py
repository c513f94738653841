"""Decode a video's frames resampled to a chosen frame rate, with clear errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from talkinghead.errors import UserError


class VideoFrames:
    """Iterate a video's frames as RGB uint8 arrays at `fps` (default: the source rate).

    Output frame N shows the source frame nearest to time N / fps, so frame N of the
    sampled sequence always lines up with the audio at N / fps seconds.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"video not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        ok = cap.isOpened()
        self.source_fps = float(cap.get(cv2.CAP_PROP_FPS)) if ok else 0.0
        self.source_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) if ok else 0
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) if ok else 0
        cap.release()
        if not ok or self.width <= 0 or self.height <= 0:
            raise UserError(f"cannot read video {self.path}: not a video file or an unsupported format")
        if not 0.5 < self.source_fps < 1000:
            self.source_fps = 25.0  # containers without a rate: assume the common one
        if fps is not None and fps <= 0:
            raise UserError(f"fps must be positive, got {fps}")
        self.fps = float(fps) if fps else self.source_fps

    @property
    def duration(self) -> float:
        return self.source_frames / self.source_fps

    def __iter__(self) -> Iterator[np.ndarray]:
        cap = cv2.VideoCapture(str(self.path))
        half = 0.5 / self.source_fps
        n_out = i = 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                t = i / self.source_fps
                rgb = None
                while n_out / self.fps < t + half:
                    if rgb is None:
                        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                    yield rgb
                    n_out += 1
                i += 1
        finally:
            cap.release()
        if i == 0:
            raise UserError(f"cannot read video {self.path}: no decodable frames")
