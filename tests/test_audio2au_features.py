"""audio2au features: exact video-frame alignment, audio loading, clear errors on bad audio."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from audio2au.features import (
    SAMPLE_RATE,
    AudioError,
    CorruptAudioError,
    EmptyAudioError,
    FeatureConfig,
    SilentAudioError,
    UnsupportedAudioError,
    band_mask,
    compute_features,
    eq_shift,
    formant_warp,
    frame_count,
    gain_shift,
    load_audio,
)

CFG = FeatureConfig()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("fps,expected", [(25, 75), (30, 90), (29.97, 90)])
def test_frame_count_for_three_seconds(fps, expected):
    assert frame_count(3 * SAMPLE_RATE, fps) == expected
    assert compute_features(np.zeros(3 * SAMPLE_RATE, np.float32), fps, expected, CFG).shape == (
        expected,
        CFG.window,
        CFG.dim,
    )


def test_frame_count_edges():
    assert frame_count(0, 25) == 0
    assert frame_count(1, 25) == 1  # frame 0 at t=0 is inside any non-empty audio
    assert frame_count(640, 25) == 1 and frame_count(641, 25) == 2  # 640 samples = one 25 fps frame
    assert frame_count(20 * SAMPLE_RATE, 30000 / 1001) == 600  # NTSC: 599.4 -> 600


@pytest.mark.parametrize("fps", [25, 30, 29.97])
def test_click_at_frame_time_lands_on_window_centre(fps):
    """A click at exactly t = k/fps is at the centre of frame k's window, late in a 20 s
    file too (no drift), and the next frame sees it one frame period earlier."""
    n = frame_count(20 * SAMPLE_RATE, fps)
    wav = np.random.default_rng(0).normal(0, 1e-4, 20 * SAMPLE_RATE).astype(np.float32)
    clicks = [10, n - 8]
    for k in clicks:
        wav[int(round(k * SAMPLE_RATE / fps))] = 1.0
    energy = compute_features(wav, fps, n, CFG).exp().sum(-1).numpy()  # (frames, window)
    for k in clicks:
        assert energy[k].argmax() == CFG.past
        assert energy[k + 1].argmax() == CFG.past - round(1000 / fps / CFG.hop_ms)
        assert energy[k - 1].argmax() == CFG.past + round(1000 / fps / CFG.hop_ms)
    quiet = [i for i in range(n) if min(abs(i - k) for k in clicks) > 4]
    assert energy[quiet].max() < energy[clicks].max() * 1e-3


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_gain_shift_matches_louder_audio(kind):
    cfg = FeatureConfig(kind=kind)
    wav = (0.1 * np.random.default_rng(1).normal(size=SAMPLE_RATE)).astype(np.float32)
    f = compute_features(wav, 25, 25, cfg)
    louder = compute_features(wav * 2, 25, 25, cfg)  # +6.02 dB
    inside = slice(3, 23)  # frames whose whole window is audio (outside is silence at the floor)
    assert np.allclose(gain_shift(f, 20 * np.log10(2), cfg)[inside], louder[inside], atol=1e-3)
    assert not np.allclose(f[inside], louder[inside], atol=1e-1)


def test_eq_shift_flat_curve_is_a_gain_and_needs_logmel():
    f = compute_features((0.1 * np.random.default_rng(2).normal(size=8000)).astype(np.float32), 25, 12, CFG)[None]
    flat = torch.full((1, CFG.n_mels), 4.0)
    assert torch.allclose(eq_shift(f, flat, CFG), gain_shift(f, torch.tensor([4.0]), CFG), atol=1e-5)
    tilt = torch.linspace(-6, 6, CFG.n_mels)[None]
    shifted = eq_shift(f, tilt, CFG) - f
    assert shifted[..., -1].min() > 1.3 and shifted[..., 0].max() < -1.3  # +-6 dB = +-1.38 in natural log
    with pytest.raises(ValueError, match="log-mel"):
        eq_shift(f, flat, FeatureConfig(kind="mfcc"))


def test_formant_warp_moves_a_voice_down_the_bands_as_a_lower_tone_would():
    tone = {hz: compute_features(_tone(0.5, SAMPLE_RATE, freq=hz), 25, 12, CFG)[None] for hz in (1500.0, 1250.0)}
    assert torch.allclose(formant_warp(tone[1500.0], torch.tensor([1.0]), CFG), tone[1500.0], atol=1e-5)
    warped = formant_warp(tone[1500.0], torch.tensor([1.2]), CFG)  # 1500 Hz read at 1.2 x 1250 Hz
    peak = lambda f: int(f[0, 5:8].mean(dim=(0, 1)).argmax())  # noqa: E731 (frames inside the tone)
    assert peak(warped) == peak(tone[1250.0]) < peak(tone[1500.0])
    with pytest.raises(ValueError, match="log-mel"):
        formant_warp(tone[1500.0], torch.tensor([1.1]), FeatureConfig(kind="mfcc"))


def test_band_mask_holds_only_the_named_bands():
    f = compute_features((0.1 * np.random.default_rng(3).normal(size=8000)).astype(np.float32), 25, 12, CFG)[None]
    masked = band_mask(f.repeat(2, 1, 1, 1), torch.tensor([5, 0]), torch.tensor([3, 0]))
    assert torch.equal(masked[1], f[0]) and torch.equal(masked[0, ..., :5], f[0, ..., :5])
    assert torch.equal(masked[0, ..., 8:], f[0, ..., 8:])
    assert (masked[0, ..., 5:8].std(dim=(0, 1)) == 0).all() and (f[0, ..., 5:8].std(dim=(0, 1)) > 0.1).all()


def _tone(seconds: float, sr: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _peak_hz(wav: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(wav))
    return float(np.fft.rfftfreq(len(wav), 1 / SAMPLE_RATE)[spec.argmax()])


@pytest.mark.parametrize(
    "suffix,sr,channels",
    [(".wav", 44100, 2), (".wav", 8000, 1), (".flac", 48000, 1), (".ogg", 22050, 2), (".mp3", 44100, 1)],
)
def test_load_audio_formats(tmp_path, suffix, sr, channels):
    path = tmp_path / f"tone{suffix}"
    sf.write(path, _tone(1.5, sr, channels), sr)
    wav = load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) - 1.5 * SAMPLE_RATE) < 0.06 * SAMPLE_RATE  # mp3 adds encoder padding
    assert abs(_peak_hz(wav) - 440) < 3


def test_load_audio_m4a(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    src, dst = tmp_path / "tone.wav", tmp_path / "tone.m4a"
    sf.write(src, _tone(1.5, 48000, 2), 48000)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c:a", "aac", str(dst)], check=True
    )
    wav = load_audio(dst)
    assert abs(len(wav) - 1.5 * SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    assert abs(_peak_hz(wav) - 440) < 3


def _bad_files(tmp: object) -> list[tuple[object, type]]:
    d = tmp
    (d / "zero.wav").write_bytes(b"")
    sf.write(d / "noframes.wav", np.zeros(0, np.float32), 16000)
    sf.write(d / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(d / "silent.flac", np.full(8000, 1e-5, np.float32), 16000)
    (d / "garbage.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (d / "garbage.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + np.random.default_rng(1).bytes(3000))
    (d / "notes.txt").write_text("hello")
    (d / "noext").write_bytes(b"RIFF")
    return [
        (d / "zero.wav", EmptyAudioError),
        (d / "noframes.wav", EmptyAudioError),
        (d / "silent.wav", SilentAudioError),
        (d / "silent.flac", SilentAudioError),
        (d / "garbage.wav", CorruptAudioError),
        (d / "garbage.m4a", CorruptAudioError),
        (d / "notes.txt", UnsupportedAudioError),
        (d / "noext", UnsupportedAudioError),
    ]


def test_bad_audio_raises_clear_errors(tmp_path):
    for path, error in _bad_files(tmp_path):
        with pytest.raises(error) as info:
            load_audio(path)
        msg = str(info.value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, AudioError)
        assert path.name in msg and "\n" not in msg and "Traceback" not in msg, msg
    with pytest.raises(FileNotFoundError):
        load_audio(tmp_path / "missing.wav")
