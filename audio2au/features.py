"""Audio in, one feature window per video frame out.

Video frame i is shown at time i/fps. Its features are `past + 1 + future` short-time
spectra (log-mel or MFCC, 25 ms windows every 10 ms) centred on the audio sample nearest
to i/fps, so frames line up with the video exactly at any frame rate (25, 30, 29.97, ...)
instead of drifting by up to half a hop as picking from a fixed 100 Hz grid would.
Audio before the start and after the end counts as digital silence: offline inference and
the streaming path (stream.py) see the same numbers.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

SAMPLE_RATE = 16000
SILENCE_PEAK = 10 ** (-60 / 20)  # a file whose loudest sample is below -60 dBFS is silent
SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
FFMPEG_SUFFIXES = (".m4a", ".aac", ".mp4", ".mov", ".mkv", ".webm", ".opus")  # decoded by ffmpeg
_LOG_OFFSET = 1e-6  # the same floor torchaudio's MFCC(log_mels=True) uses
_BLOCK = 2048  # video frames per feature batch: bounds memory on long audio


class AudioError(ValueError):
    """Audio that cannot be used; the message is one line naming the file and the reason."""


class EmptyAudioError(AudioError):
    pass


class SilentAudioError(AudioError):
    pass


class CorruptAudioError(AudioError):
    pass


class UnsupportedAudioError(AudioError):
    pass


@dataclass(frozen=True)
class FeatureConfig:
    """What the model sees per video frame; stored in every checkpoint."""

    kind: str = "logmel"  # logmel | mfcc
    n_mels: int = 40
    n_mfcc: int = 20
    win_ms: float = 25.0
    hop_ms: float = 10.0
    past: int = 8  # spectra before the frame centre
    future: int = 4  # spectra after it (part of the streaming latency)

    def __post_init__(self) -> None:
        if self.kind not in ("logmel", "mfcc"):
            raise ValueError(f"feature kind must be 'logmel' or 'mfcc', got {self.kind!r}")
        if self.past < 0 or self.future < 0 or self.hop_ms <= 0 or self.win_ms <= 0:
            raise ValueError("feature past/future must be >= 0 and win_ms/hop_ms > 0")
        if self.kind == "mfcc" and not 0 < self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")

    @property
    def n_fft(self) -> int:
        return int(round(self.win_ms * SAMPLE_RATE / 1000))

    @property
    def hop(self) -> int:
        return int(round(self.hop_ms * SAMPLE_RATE / 1000))

    @property
    def window(self) -> int:
        """Spectra per video frame."""
        return self.past + 1 + self.future

    @property
    def dim(self) -> int:
        """Values per spectrum."""
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    @property
    def left(self) -> int:
        """Samples needed before a frame centre."""
        return self.past * self.hop + self.n_fft // 2

    @property
    def segment(self) -> int:
        """Samples one frame's window spans (from centre - left)."""
        return (self.window - 1) * self.hop + self.n_fft

    @property
    def right(self) -> int:
        """Samples needed from a frame centre on (the feature look-ahead)."""
        return self.segment - self.left

    def to_dict(self) -> dict:
        return asdict(self)


def frame_count(n_samples: int, fps: float) -> int:
    """Video frames for n_samples of 16 kHz audio: every frame whose time i/fps falls
    inside the audio (3 s -> 75 at 25 fps, 90 at 30 and at 29.97)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(0, math.ceil(n_samples * fps / SAMPLE_RATE - 1e-6))


def frame_centers(start: int, stop: int, fps: float) -> np.ndarray:
    """The sample index nearest to i/fps for frames start..stop-1."""
    return np.rint(np.arange(start, stop, dtype=np.float64) * SAMPLE_RATE / fps).astype(np.int64)


@lru_cache(maxsize=8)
def _transform(cfg: FeatureConfig) -> torch.nn.Module:
    mel = dict(n_fft=cfg.n_fft, win_length=cfg.n_fft, hop_length=cfg.hop, n_mels=cfg.n_mels, center=False)
    if cfg.kind == "mfcc":
        return torchaudio.transforms.MFCC(SAMPLE_RATE, n_mfcc=cfg.n_mfcc, log_mels=True, melkwargs=mel)
    return torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, **mel)


def window_features(buffer: torch.Tensor, starts: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """(frames, window, dim) features of the segments buffer[s : s + cfg.segment]."""
    idx = starts[:, None] + torch.arange(cfg.segment)
    spec = _transform(cfg)(buffer[idx])  # (frames, dim, window)
    if cfg.kind == "logmel":
        spec = torch.log(spec + _LOG_OFFSET)
    return spec.transpose(1, 2).contiguous()


def compute_features(
    waveform: np.ndarray | torch.Tensor, fps: float, n_frames: int, cfg: FeatureConfig
) -> torch.Tensor:
    """(n_frames, window, dim) float32 features of 16 kHz mono audio; frames past the end
    of the audio see silence (used for the model's look-ahead)."""
    wav = torch.as_tensor(np.asarray(waveform, dtype=np.float32)).reshape(-1)
    centers = frame_centers(0, n_frames, fps)
    last = int(centers[-1]) + cfg.right if n_frames else 0
    padded = torch.zeros(cfg.left + max(last, len(wav)), dtype=torch.float32)
    padded[cfg.left : cfg.left + len(wav)] = wav
    starts = torch.from_numpy(centers)  # centre - left, shifted by the left padding
    out = [window_features(padded, starts[i : i + _BLOCK], cfg) for i in range(0, n_frames, _BLOCK)]
    return torch.cat(out) if out else torch.zeros(0, cfg.window, cfg.dim)


def gain_shift(features: torch.Tensor, gain_db: torch.Tensor | float, cfg: FeatureConfig) -> torch.Tensor:
    """The features of the same audio made louder by gain_db (a loudness augmentation that
    needs no recomputation: a gain adds a constant to log-mel, and to MFCC c0 only)."""
    shift = torch.as_tensor(gain_db, dtype=features.dtype) * (math.log(10) / 10)  # log of the power ratio
    shift = shift.reshape(*shift.shape, *([1] * (features.ndim - shift.ndim)))
    if cfg.kind == "logmel":
        return features + shift
    out = features.clone()
    out[..., 0] += shift[..., 0] * math.sqrt(cfg.n_mels)  # orthonormal DCT of a constant
    return out


def eq_shift(features: torch.Tensor, curve_db: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """The log-mel features of the same audio through an equaliser with per-band gains
    curve_db (batch, n_mels): a microphone/channel augmentation. Log-mel only."""
    if cfg.kind != "logmel":
        raise ValueError("equaliser augmentation needs log-mel features (set train.eq_db=0 for MFCC)")
    return features + (curve_db * (math.log(10) / 10))[:, None, None, :].to(features.dtype)


def noise_mix(features: torch.Tensor, snr_db: torch.Tensor, tilt_db: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """The log-mel features of the same audio with stationary noise added (a room, a fan, a
    street): per sequence, noise power `snr_db` below its loudest spectrum's mean band power,
    tilted by `tilt_db` from the lowest to the highest band. Powers add, so this is exact
    up to the noise's own frame-to-frame variance. (batch, ...) snr_db and tilt_db."""
    if cfg.kind != "logmel":
        raise ValueError("noise augmentation needs log-mel features (set train.noise_snr_db=[] for MFCC)")
    power = features.double().exp()  # (B, T, window, bands); includes the log floor
    ref = power.mean(-1).amax(dim=(1, 2))  # (B,)
    shape_db = tilt_db.double()[:, None] * torch.linspace(-0.5, 0.5, features.shape[-1], dtype=torch.float64)
    noise = ref[:, None] * 10 ** ((shape_db - snr_db.double()[:, None]) / 10)  # (B, bands)
    return torch.log(power + noise[:, None, None, :]).to(features.dtype)


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)  # torchaudio's default (HTK) mel scale


def formant_warp(features: torch.Tensor, alpha: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """The log-mel features of a voice whose formants sit `alpha` times lower: each band
    reads the spectrum at alpha times its centre frequency (vocal-tract-length perturbation,
    a speaker augmentation; pitch and tempo stay). (batch,) alpha. Log-mel only."""
    if cfg.kind != "logmel":
        raise ValueError("formant warping needs log-mel features (set train.formant_warp=0 for MFCC)")
    top = _hz_to_mel(torch.tensor(SAMPLE_RATE / 2.0, dtype=torch.float64))
    centres = torch.linspace(0, float(top), cfg.n_mels + 2, dtype=torch.float64)[1:-1]
    hz = 700.0 * (10 ** (centres / 2595.0) - 1.0)
    pos = _hz_to_mel(hz[None] * alpha.double()[:, None]) / top * (cfg.n_mels + 1) - 1  # (B, bands)
    pos = pos.clamp(0, cfg.n_mels - 1)
    lo = pos.floor().long().clamp(max=cfg.n_mels - 2)
    frac = (pos - lo).to(features.dtype)[:, None, None, :]
    index = lo[:, None, None, :].expand(*features.shape[:-1], -1)
    below = features.gather(-1, index)
    above = features.gather(-1, index + 1)
    return below + frac * (above - below)


def band_mask(features: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """Log-mel or MFCC features with bands start..start+width-1 of each sequence held at
    their mean over the sequence (frequency masking: the model must not lean on any one
    band, as a codec, a room or a noise can take any of them away). (batch,) start, width."""
    band = torch.arange(features.shape[-1])
    hidden = ((band >= start[:, None]) & (band < (start + width)[:, None]))[:, None, None, :]
    return torch.where(hidden, features.mean(dim=(1, 2), keepdim=True), features)


def check_waveform(waveform: np.ndarray, source: str = "audio", allow_silent: bool = False) -> np.ndarray:
    """A 1-D finite float32 waveform, or a clear AudioError."""
    wav = np.asarray(waveform, dtype=np.float32)
    if wav.ndim != 1:
        raise AudioError(f"{source}: expected mono samples (1-D), got shape {wav.shape}")
    if wav.size == 0:
        raise EmptyAudioError(f"{source}: the audio is empty (no samples)")
    if not np.all(np.isfinite(wav)):
        raise CorruptAudioError(f"{source}: the audio contains NaN or infinite samples")
    if not allow_silent and float(np.max(np.abs(wav))) < SILENCE_PEAK:
        raise SilentAudioError(f"{source}: the audio is silent (peak below -60 dBFS)")
    return wav


def resample(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at `sample_rate` -> 16 kHz."""
    if sample_rate == SAMPLE_RATE:
        return np.asarray(waveform, dtype=np.float32)
    t = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    return torchaudio.functional.resample(t, int(sample_rate), SAMPLE_RATE).numpy()


def _decode_ffmpeg(path: Path, tmp_dir: str) -> Path:
    try:
        import imageio_ffmpeg  # ships its own ffmpeg binary
    except ImportError:
        raise UnsupportedAudioError(f"{path}: decoding {path.suffix} needs the imageio-ffmpeg package") from None
    out = Path(tmp_dir) / "decoded.wav"
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-i",
        str(path),
        "-vn",
        "-ac",
        "1",
        "-c:a",
        "pcm_f32le",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        msg = proc.stderr.strip()
        if "does not contain any stream" in msg or "matches no streams" in msg:
            raise EmptyAudioError(f"{path}: the file has no audio stream")
        reason = msg.splitlines()[-1] if msg else f"ffmpeg exit code {proc.returncode}"
        raise CorruptAudioError(f"{path}: cannot decode audio ({reason})")
    return out


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Read wav/flac/ogg/mp3 (soundfile) or m4a/aac/mp4/... (ffmpeg), any rate and channel
    count, as 16 kHz mono float32. Empty, silent, corrupt or unsupported files raise an
    AudioError subclass with a one-line message."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in SOUNDFILE_SUFFIXES + FFMPEG_SUFFIXES:
        known = " ".join(s.lstrip(".") for s in SOUNDFILE_SUFFIXES + FFMPEG_SUFFIXES)
        raise UnsupportedAudioError(
            f"{path}: unsupported audio format {suffix or '(no extension)'!r}; use one of: {known}"
        )
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path}: the file is empty (0 bytes)")
    with tempfile.TemporaryDirectory(prefix="audio2au-") as tmp:
        readable = _decode_ffmpeg(path, tmp) if suffix in FFMPEG_SUFFIXES else path
        try:
            data, sr = sf.read(readable, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            reason = re.sub(r"^Error opening .*?: ", "", str(e).splitlines()[0])  # the path again, in quotes
            raise CorruptAudioError(f"{path}: cannot decode audio ({reason})") from None
    if data.shape[0] == 0:
        raise EmptyAudioError(f"{path}: the audio is empty (no samples)")
    if not 4000 <= sr <= 384000:
        raise UnsupportedAudioError(f"{path}: unsupported sample rate {sr} Hz")
    return check_waveform(resample(data.mean(axis=1), sr), str(path))
