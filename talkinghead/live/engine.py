"""The per-frame work of live mode: audio chunks in, the newest finished frame out.

    chunks -> streaming audio2au (LSTM state carried) -> StreamPost (causal smoothing, the
    photo's expression held, blinks, brows) -> the animator (warp renderer by default, or
    the GATH decoder on the photo's code with paste-back)
    chunks -> streaming head motion (causal: it hears no speech ahead) -> the frame's head pose

When the machine falls behind, several AU frames become ready at once; only the newest
is rendered and the others are counted as dropped, so lag never builds up.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from audio2au import AUStream
from audio2au.features import SAMPLE_RATE, frame_centers
from audio2au.head_motion import HeadMotion
from audio2au.model import Audio2AU
from talkinghead.aupost import PostOptions, StreamPost
from talkinghead.live.audio_input import Chunk
from talkinghead.renderers import Animator


@dataclass
class LiveFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB, the whole animated photo
    aus: np.ndarray  # (n_aus,) the coefficients that drove it
    index: int  # frame number on the audio timeline (frame i shows time i / fps)
    covers: int  # AU frames this image stands for (1 + the dropped ones before it)
    captured: float  # time.monotonic() when the audio sample at the frame's centre was captured


class LiveEngine:
    def __init__(
        self,
        animator: Animator,
        audio_model: Audio2AU,
        fps: float,
        post: PostOptions,
        base: np.ndarray | None = None,
        cuda: bool = False,
        head: HeadMotion | None = None,
    ) -> None:
        self.animator, self.fps, self.cuda = animator, float(fps), cuda
        self.photo = animator.portrait.image
        self.stream = AUStream(audio_model, fps)
        self.post = StreamPost(animator.au_names, fps, post, base=base)
        self.head_model = head
        self.head = head.stream(fps, post.head_rng(), lead=0) if head is not None and post.head_motion > 0 else None
        self._poses = np.zeros((0, 3), np.float32)  # head poses from _pose_base on
        self._pose_base = 0
        self._pending: list[np.ndarray] = []
        self._received = 0
        self._chunk_ends: deque[tuple[int, float]] = deque(maxlen=500)  # (samples received, captured_end)
        self.rendered = 0
        self.dropped = 0
        animator.frames(np.full((1, len(animator.au_names)), 0.5, np.float32))  # warm-up: first frame is not slow

    def feed(self, chunk: Chunk) -> None:
        if len(chunk.samples) == 0:
            return
        self._received += len(chunk.samples)
        self._chunk_ends.append((self._received, chunk.captured_end))
        aus = self.stream.push(chunk.samples)
        if len(aus):
            self._pending.append(aus)
        if self.head is not None:
            self._poses = np.concatenate([self._poses, self.head.push(chunk.samples)])

    def pose(self, index: int) -> np.ndarray | None:
        """(1, 3) head pose of frame `index` (the newest one ready if the head lags), scaled
        as `postprocess` scales it (--head-motion); None without head motion."""
        if self.head is None or not len(self._poses):
            return None
        i = min(index - self._pose_base, len(self._poses) - 1)
        if i > 0:  # earlier frames are never shown again
            self._poses, self._pose_base = self._poses[i:], self._pose_base + i
        return self.post.options.pose(self._poses[:1])

    def captured_at(self, sample: int) -> float:
        """When audio sample `sample` (counted from the start of the stream) was captured."""
        for end, t in self._chunk_ends:
            if sample < end:
                return t - (end - 1 - sample) / SAMPLE_RATE
        end, t = self._chunk_ends[-1]
        return t + (sample - end + 1) / SAMPLE_RATE

    def next_frame(self) -> LiveFrame | None:
        """Post-process every AU frame that became ready (keeps smoothing and blinks on
        the audio timeline), render only the newest; None when nothing is ready."""
        if not self._pending:
            return None
        aus = self.post(np.concatenate(self._pending))
        self._pending.clear()
        index = self.stream.frames_emitted - 1
        image = self.animator.frames(aus[-1:], self.pose(index))[0]
        self.rendered += 1
        self.dropped += len(aus) - 1
        centre = int(frame_centers(index, index + 1, self.fps)[0])
        return LiveFrame(image, aus[-1], index, len(aus), self.captured_at(centre))


class LiveStats:
    """Frames per second over the last `window_s` and audio-to-frame latencies."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._shown: deque[float] = deque()
        self.latencies: list[float] = []
        self.first: float | None = None
        self.last = 0.0
        self.frames = 0

    def add(self, shown_at: float, latency: float) -> None:
        self._shown.append(shown_at)
        while self._shown and shown_at - self._shown[0] > self.window_s:
            self._shown.popleft()
        self.latencies.append(latency)
        self.frames += 1
        self.first = shown_at if self.first is None else self.first
        self.last = shown_at

    @property
    def seconds(self) -> float:
        """From the first shown frame to the last (the device's start-up is not counted)."""
        return 0.0 if self.first is None else self.last - self.first

    @property
    def fps(self) -> float:
        if len(self._shown) < 2:
            return 0.0
        return (len(self._shown) - 1) / max(self._shown[-1] - self._shown[0], 1e-9)

    @property
    def latency(self) -> float:
        """Median latency of the last 25 frames, seconds."""
        return float(np.median(self.latencies[-25:])) if self.latencies else 0.0

    def overlay(self) -> str:
        return f"{self.fps:4.1f} fps  |  audio-to-frame {1000 * self.latency:.0f} ms"
