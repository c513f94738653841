"""Causal prosody features per video frame (loudness, speech, onsets, pitch) for the head
motion model (`audio2au.head_motion`).

Two stages, so the streaming path gives exactly the offline numbers:
- `frame_measures`: level and pitch of a window that ends half a frame after each frame's
  time (20 ms look-ahead at 25 fps); a pure function of that window's samples.
- `ProsodyTracker`: running, causal estimates of the speaker's level, noise floor and
  pitch, stepped frame by frame in the same order offline and live.

Levels are relative to the speaker's own running speech level and pitch to the speaker's
running mean, so the features mean the same for a whisper, a shout or a low voice.
"""

from __future__ import annotations

import math

import numpy as np

from audio2au.features import SAMPLE_RATE, frame_count

FEATURE_NAMES = ("loudness", "speech", "onset", "pitch", "voiced")
LEVEL_WINDOW = 640  # 40 ms: one frame at 25 fps
PITCH_WINDOW = 1024  # 64 ms: three periods of a 60 Hz voice (the lowest pitch looked for)
F0_RANGE = (60.0, 400.0)
VOICING = 0.6  # normalised autocorrelation peak above which a window is voiced
SUBHARMONIC = 0.85  # a period 1/2 or 1/3 as long wins when its peak is this close (no octave errors)
FLOOR_DB = -100.0

# Voice activity from a peak follower and a noise-floor follower (the causal counterpart of
# audio2au.frame_measures.speech_threshold: speech is within 30 dB of the loud frames and
# 12 dB above the floor, never asking for more than 20 dB below the loud frames). The peak
# starts at a typical speech peak (prepared clips: -33 to -11 dBFS, median -21), so the
# noise before the first word is not taken for speech.
PRIOR_PEAK_DB = -20.0
PEAK_RELEASE_DB_S = 3.0
FLOOR_RISE_DB_S = 3.0
FLOOR_FALL = 0.1  # share of a drop below the floor taken per frame (a few quiet frames are no floor)
SPEECH_RANGE_DB, FLOOR_MARGIN_DB, MAX_MARGIN_DB = 30.0, 12.0, 20.0
HANGOVER_S = 0.16  # speech stays on through shorter dips (stop closures)
LEVEL_TAU_S = 2.0  # the speaker's speech level: running mean over speech frames, then exponential
PITCH_TAU_S = 3.0  # the speaker's pitch (semitones) over voiced frames, the same way
ONSET_TAU_S = 0.06  # smoothing of the level before its rise is taken
LOUDNESS_RANGE_DB = (-30.0, 15.0)
PITCH_RANGE_ST = 12.0


def window_ends(start: int, stop: int, fps: float) -> np.ndarray:
    """Sample index just after the last sample frame i (start <= i < stop) may hear: half a
    frame after its time i / fps."""
    return np.rint((np.arange(start, stop, dtype=np.float64) + 0.5) * SAMPLE_RATE / fps).astype(np.int64)


def frame_measures(wav: np.ndarray, ends: np.ndarray, offset: int = 0) -> np.ndarray:
    """(frames, 3): level (dBFS), pitch (semitones re 100 Hz, NaN when unvoiced) and voicing
    peak of the windows ending at `ends` (absolute sample indices; `wav` starts at sample
    `offset`; samples outside it are silence)."""
    n = len(ends)
    need = PITCH_WINDOW
    wav = np.append(np.asarray(wav, np.float64), 0.0)  # the last sample stands for everything outside
    idx = ends[:, None] - offset - need + np.arange(need)[None]
    idx[(idx < 0) | (idx >= len(wav) - 1)] = len(wav) - 1
    win = wav[idx]
    level = 10 * np.log10(np.mean(win[:, -LEVEL_WINDOW:] ** 2, axis=1) + 10 ** (FLOOR_DB / 10))
    x = win - win.mean(axis=1, keepdims=True)
    acf = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * need, axis=1)) ** 2, axis=1)[:, :need]
    energy = np.cumsum(x**2, axis=1)
    lo, hi = int(SAMPLE_RATE / F0_RANGE[1]), int(SAMPLE_RATE / F0_RANGE[0])
    lags = np.arange(lo - 1, hi + 2)
    head = energy[:, need - 1 - lags]  # energy of x[:need - lag]
    tail = energy[:, -1:] - energy[:, lags - 1]  # energy of x[lag:]
    full = acf[:, lags] / np.sqrt(np.maximum(head * tail, 1e-20))
    nccf = full[:, 1:-1]
    # only true peaks count: a smooth (low-pass) window correlates with itself at the shortest lag
    peaks = (nccf >= full[:, :-2]) & (nccf >= full[:, 2:])
    best = np.where(peaks, nccf, -1.0).argmax(axis=1)
    peak = nccf[np.arange(n), best]
    for k in (3, 2):  # prefer the true period over its multiples
        cand = np.rint((best + lo) / k).astype(int) - lo
        ok = cand >= 0
        c = np.clip(cand, 0, nccf.shape[1] - 1)
        near = np.maximum(nccf[np.arange(n), c], nccf[np.arange(n), np.clip(c + 1, 0, nccf.shape[1] - 1)])
        take = ok & (near >= SUBHARMONIC * peak) & (peak > VOICING)
        best = np.where(take, c, best)
    f0 = SAMPLE_RATE / (best + lo)
    voiced = (peak > VOICING) & (energy[:, -1] > 1e-8)
    pitch = np.where(voiced, 12 * np.log2(f0 / 100.0), np.nan)
    return np.column_stack([level, pitch, peak])


class RunningMean:
    """Mean of the values so far, turning into an exponential mean of time constant `n`
    values: settles within a few values, then follows slow changes."""

    def __init__(self, n: float) -> None:
        self.n, self.count, self.value = n, 0, 0.0

    def add(self, x: float) -> None:
        self.count += 1
        self.value += (x - self.value) / min(self.count, self.n)


class ProsodyTracker:
    """Turns frame measures into features (`FEATURE_NAMES`), one frame at a time, with
    running estimates that only look back."""

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self._release = PEAK_RELEASE_DB_S / self.fps
        self._rise = FLOOR_RISE_DB_S / self.fps
        self._hang = int(round(HANGOVER_S * self.fps))
        self._onset_a = 1 - math.exp(-1 / (ONSET_TAU_S * self.fps))
        self._peak = PRIOR_PEAK_DB
        self._floor: float | None = None
        self._since_speech = self._hang + 1
        self._speech_level = RunningMean(LEVEL_TAU_S * self.fps)
        self._pitch = RunningMean(PITCH_TAU_S * self.fps)
        self._smooth: float | None = None

    def step(self, level: float, pitch: float, voicing: float) -> np.ndarray:
        """One frame's measures (`frame_measures` row) -> its features (F,)."""
        self._peak = max(level, self._peak - self._release)
        floor = level if self._floor is None else self._floor
        self._floor = floor + (FLOOR_FALL * (level - floor) if level < floor else self._rise)
        threshold = max(self._peak - SPEECH_RANGE_DB, min(self._floor + FLOOR_MARGIN_DB, self._peak - MAX_MARGIN_DB))
        self._since_speech = 0 if level >= threshold else self._since_speech + 1
        speech = self._since_speech <= self._hang
        if speech:
            self._speech_level.add(level)
        reference = self._speech_level.value if self._speech_level.count else self._peak - 6.0
        loudness = min(max(level - reference, LOUDNESS_RANGE_DB[0]), LOUDNESS_RANGE_DB[1])
        previous = loudness if self._smooth is None else self._smooth
        self._smooth = previous + self._onset_a * (loudness - previous)
        onset = max(0.0, self._smooth - previous)
        voiced = speech and voicing > VOICING and math.isfinite(pitch)
        rel_pitch = 0.0
        if voiced:
            self._pitch.add(pitch)
            rel_pitch = min(max(pitch - self._pitch.value, -PITCH_RANGE_ST), PITCH_RANGE_ST)
        return np.array([loudness / 10, float(speech), onset / 5, rel_pitch / 6, float(voiced)])


def prosody(wav: np.ndarray, fps: float = 25.0, n_frames: int | None = None) -> np.ndarray:
    """(frames, len(FEATURE_NAMES)) causal features of 16 kHz mono audio: loudness (10 dB
    units re the speaker's running speech level), speech flag, loudness onset (positive
    rise, 5 dB units), pitch (6-semitone units re the running mean, 0 when unvoiced), voiced
    flag. Frame i hears audio up to half a frame after i / fps; frames past the end hear
    silence. n_frames defaults to every frame whose time falls inside the audio."""
    if n_frames is None:
        n_frames = frame_count(len(wav), fps)
    measures = frame_measures(np.asarray(wav, np.float64), window_ends(0, n_frames, fps))
    tracker = ProsodyTracker(fps)
    out = np.zeros((n_frames, len(FEATURE_NAMES)))
    for i, (level, pitch, voicing) in enumerate(measures):
        out[i] = tracker.step(level, pitch, voicing)
    return out
