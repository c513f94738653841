"""Ordinary damage that users' audio carries: a telephone band, a low-bitrate codec, noise.
The lip-sync evaluation renders the same speech clean and damaged (a model that only
follows clean studio audio is not one users can rely on), and training can learn from
damaged copies. Waveforms in, waveforms out: 16 kHz mono float32."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from audio2au.features import SAMPLE_RATE

TELEPHONE_BAND_HZ = (300, 3400)
TELEPHONE_RATE = 8000
MP3_KBPS = 32


def _ffmpeg(waveform: np.ndarray, filters: str, codec_args: list[str], suffix: str) -> np.ndarray:
    """Pass 16 kHz float audio through ffmpeg's filters, encode it with `codec_args` into a
    `suffix` file and decode that back to 16 kHz mono float32. Through files, not pipes: only
    a seekable file gets the header that tells the decoder the encoder's delay (piped MP3
    comes back shifted by ~70 ms, which would read as lost lip sync)."""
    import imageio_ffmpeg  # ships its own ffmpeg binary, with lame and opus

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        clean, coded, back = (Path(tmp) / name for name in ("in.wav", f"coded{suffix}", "out.wav"))
        sf.write(clean, np.asarray(waveform, np.float32), SAMPLE_RATE, subtype="FLOAT")
        run = lambda *args: subprocess.run(
            [exe, "-v", "error", "-nostdin", "-y", *args], capture_output=True, check=True
        )
        run("-i", str(clean), "-af", filters, *codec_args, str(coded))
        run("-i", str(coded), "-ar", str(SAMPLE_RATE), "-ac", "1", "-c:a", "pcm_f32le", str(back))
        out, _ = sf.read(back, dtype="float32")
    n = len(waveform)
    return np.pad(out[:n], (0, max(0, n - len(out)))).astype(np.float32)  # codecs add or drop a few samples


def telephone_mp3(waveform: np.ndarray) -> np.ndarray:
    """A call's band (300-3400 Hz at 8 kHz), then a 32 kbps MP3, back at 16 kHz: what a voice
    message or a compressed download of a call sounds like."""
    lo, hi = TELEPHONE_BAND_HZ
    filters = f"highpass=f={lo},lowpass=f={hi},aresample={TELEPHONE_RATE}"
    return _ffmpeg(waveform, filters, ["-c:a", "libmp3lame", "-b:a", f"{MP3_KBPS}k"], ".mp3")


def with_noise(waveform: np.ndarray, snr_db: float, seed: int = 0, noise: np.ndarray | None = None) -> np.ndarray:
    """Noise (white unless given) `snr_db` under the speech's power (the mean power of its
    loud half, so pauses do not make the noise quieter)."""
    wav = np.asarray(waveform, np.float32)
    frames = wav[: len(wav) // 320 * 320].reshape(-1, 320)  # 20 ms
    power = np.sort((frames.astype(np.float64) ** 2).mean(1))
    speech_power = power[len(power) // 2 :].mean() if len(power) else 0.0
    noise = np.random.default_rng(seed).standard_normal(len(wav)) if noise is None else np.asarray(noise, np.float64)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / max(float((noise**2).mean()), 1e-20))
    return (wav + noise).astype(np.float32)


def opus(waveform: np.ndarray, kbps: int = 12) -> np.ndarray:
    """A low-bitrate Opus voice message (12 kbps: what messaging apps send)."""
    return _ffmpeg(waveform, "anull", ["-c:a", "libopus", "-b:a", f"{kbps}k", "-application", "voip"], ".ogg")


def with_room(waveform: np.ndarray, rt60_s: float = 0.5, seed: int = 0) -> np.ndarray:
    """A reverberant room: the voice plus an exponentially decaying noise tail (reverberation
    time `rt60_s`) carrying as much energy as the direct sound, at the same peak level."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * SAMPLE_RATE)
    tail = rng.standard_normal(n) * 10 ** (-3 * np.arange(n) / n)  # -60 dB at rt60
    tail *= 1 / np.sqrt((tail**2).sum())
    tail[0] = 1.0
    wav = np.asarray(waveform, np.float64)
    wet = fftconvolve(wav, tail)[: len(wav)]
    return (wet * np.abs(wav).max() / max(np.abs(wet).max(), 1e-9)).astype(np.float32)


def with_babble(waveform: np.ndarray, seed: int = 0) -> np.ndarray:
    """A noisy place: the voice over pink-ish noise whose level wanders slowly (a crowd, a
    street), 3-20 dB under the speech; not the evaluation's steady white noise."""
    rng = np.random.default_rng(seed + len(waveform))
    wav = np.asarray(waveform, np.float32)
    white = np.fft.rfft(rng.standard_normal(len(wav)))
    freqs = np.fft.rfftfreq(len(wav), 1 / SAMPLE_RATE)
    pink = np.fft.irfft(white / np.sqrt(np.maximum(freqs, 50.0)), len(wav))
    wander = np.interp(np.arange(len(wav)), np.linspace(0, len(wav), 8), rng.uniform(0.5, 1.5, 8))
    noise = (pink * wander).astype(np.float32)
    return with_noise(wav, float(rng.uniform(3, 20)), noise=noise)


# The damaged conditions the evaluation reports, by name.
DEGRADATIONS = {
    "telephone+mp3": telephone_mp3,
    "noise 10 dB": lambda w: with_noise(w, 10.0),
}
# Damage that training can learn from as extra copies of each clip (train.codecs); noise is
# added to the features on the fly instead.
CODECS = {"telephone+mp3": telephone_mp3, "opus": opus, "room": with_room, "babble": with_babble}
