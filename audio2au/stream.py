"""Streaming inference: push audio chunks of any size, get AU frames as soon as they can be
computed. Frame i needs audio up to its centre + the feature look-ahead (`features.right`)
of frame i + `lookahead`; the LSTM state is carried across chunks, so the frames equal
those of offline `predict_aus` on the whole audio with the same unidirectional model.
"""

from __future__ import annotations

import numpy as np
import torch

from audio2au.features import SAMPLE_RATE, check_waveform, frame_centers, frame_count, window_features
from audio2au.model import Audio2AU


class AUStream:
    """`push(chunk)` -> (new frames, AUs); `flush()` at the end of the audio -> the rest."""

    def __init__(self, model: Audio2AU, fps: float) -> None:
        if model.net.bidirectional:
            raise ValueError("streaming needs a unidirectional audio2au model (train with audio2au/model=stream)")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.model, self.fps = model, float(fps)
        self.cfg = model.features
        self.device = model.net.device
        self.reset()

    def reset(self) -> None:
        """Start a new utterance: silence before it, fresh LSTM state."""
        self._buffer = torch.zeros(self.cfg.left)  # audio from absolute sample _start on
        self._start = -self.cfg.left
        self._received = 0  # samples pushed so far
        self._next_input = 0  # next frame to run through the LSTM
        self._emitted = 0  # AU frames returned so far
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None
        self._closed = False

    @property
    def latency_s(self) -> float:
        """Algorithmic latency: how long after a frame's time its last needed sample
        arrives (model look-ahead + feature look-ahead); add the chunk length on top."""
        return self.model.net.lookahead / self.fps + self.cfg.right / SAMPLE_RATE

    @property
    def frames_emitted(self) -> int:
        return self._emitted

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add 16 kHz samples ((n,) or (n, channels)); returns the AU frames that became
        ready (maybe none)."""
        if self._closed:
            raise RuntimeError("this stream was flushed; call reset() to start a new one")
        samples = np.asarray(chunk, dtype=np.float32)
        if samples.ndim == 2:  # (frames, channels), as audio input callbacks deliver it
            samples = samples.mean(axis=1)
        samples = check_waveform(samples, "audio chunk", allow_silent=True) if samples.size else samples.reshape(0)
        self._buffer = torch.cat([self._buffer, torch.from_numpy(samples)])
        self._received += len(samples)
        return self._run(self._ready_until(self._received))

    def flush(self) -> np.ndarray:
        """End of audio: the remaining frames (every frame inside the audio), computing the
        look-ahead over silence as offline inference does."""
        if self._closed:
            return np.zeros((0, len(self.model.au_names)), np.float32)
        n_out = frame_count(self._received, self.fps)
        n_in = n_out + self.model.net.lookahead if n_out else 0
        if n_in > self._next_input:
            end = int(frame_centers(n_in - 1, n_in, self.fps)[0]) + self.cfg.right
            pad = end - (self._start + len(self._buffer))
            if pad > 0:
                self._buffer = torch.cat([self._buffer, torch.zeros(pad)])
        self._closed = True
        return self._run(n_in)

    def _ready_until(self, available: int) -> int:
        """Number of input frames whose windows end at or before sample `available`."""
        guess = max(self._next_input, int(np.floor((available - self.cfg.right) * self.fps / SAMPLE_RATE)) + 2)
        centers = frame_centers(self._next_input, guess, self.fps)
        return self._next_input + int(np.searchsorted(centers + self.cfg.right, available, side="right"))

    @torch.inference_mode()
    def _run(self, n_in: int) -> np.ndarray:
        if n_in <= self._next_input:
            return np.zeros((0, len(self.model.au_names)), np.float32)
        centers = torch.from_numpy(frame_centers(self._next_input, n_in, self.fps))
        feats = window_features(self._buffer, centers - self.cfg.left - self._start, self.cfg)
        out, self._state = self.model.net.eval().step(feats[None].to(self.device), self._state)
        out = out[0].float().cpu().numpy()
        # the first inputs only feed look-ahead (a small first chunk may hold fewer than that)
        skip = min(len(out), max(0, self.model.net.lookahead - self._next_input))
        self._next_input = n_in
        keep_from = int(frame_centers(n_in, n_in + 1, self.fps)[0]) - self.cfg.left
        drop = keep_from - self._start
        if drop > 0:
            self._buffer, self._start = self._buffer[drop:], keep_from
        self._emitted += len(out) - skip
        return out[skip:]
