"""Speech -> AU series for a whole recording: a bidirectional model in one pass; a streaming
model 10 s at a time with its state carried, which gives the same frames (streaming equals
offline) in memory that does not grow with the recording's length."""

from __future__ import annotations

import numpy as np
import torch

from audio2au.features import SAMPLE_RATE, check_waveform, compute_features, frame_count
from audio2au.model import Audio2AU
from audio2au.stream import AUStream

STREAM_CHUNK_S = 10.0


@torch.inference_mode()
def predict_aus(model: Audio2AU, waveform: np.ndarray, fps: float, n_frames: int | None = None) -> np.ndarray:
    """(frames, AUs) float32 in [0, 1] for 16 kHz mono audio, one row per video frame at
    `fps` (frame i at time i/fps; by default every frame inside the audio)."""
    wav = check_waveform(waveform, allow_silent=True)
    n = frame_count(len(wav), fps) if n_frames is None else int(n_frames)
    if n <= 0:
        raise ValueError(f"n_frames must be positive, got {n}")
    if not model.net.bidirectional and n == frame_count(len(wav), fps):
        stream = AUStream(model, fps)
        step = int(STREAM_CHUNK_S * SAMPLE_RATE)
        parts = [stream.push(wav[i : i + step]) for i in range(0, len(wav), step)]
        return np.concatenate([*parts, stream.flush()]).astype(np.float32)
    device = model.net.device
    feats = compute_features(wav, fps, n + model.net.lookahead, model.features).to(device)
    return model.net.eval()(feats[None])[0].float().cpu().numpy()
