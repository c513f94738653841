"""The audio damage used to train and to evaluate audio2au: it keeps the timing (a codec
that shifted the voice would read as lost lip sync) and damages what it says it does."""

from __future__ import annotations

import numpy as np
import pytest

from audio2au.data import Clip, degraded
from audio2au.degrade import CODECS, DEGRADATIONS, opus, telephone_mp3, with_babble, with_noise, with_room
from audio2au.features import SAMPLE_RATE


def voice(seconds: float = 2.0) -> np.ndarray:
    """Syllables: a 150 Hz buzz with harmonics, on and off four times a second."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    return (0.2 * buzz * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32)


def lag(a: np.ndarray, b: np.ndarray, reach: int = 2000) -> int:
    """Samples by which a's envelope trails b's."""
    env = lambda x: np.convolve(np.abs(x), np.ones(160) / 160, "same")  # noqa: E731
    ea, eb = env(a)[reach:-reach], env(b)
    scores = [np.dot(ea, eb[reach + k : reach + k + len(ea)]) for k in range(-reach, reach + 1)]
    return reach - int(np.argmax(scores))


@pytest.mark.parametrize("damage", [telephone_mp3, opus, with_babble])
def test_damage_keeps_length_and_timing(damage):
    clean = voice()
    out = damage(clean)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert abs(lag(out, clean)) <= 40  # 2.5 ms; MP3 read back through a pipe came ~70 ms early
    assert not np.allclose(out, clean, atol=1e-3)


def test_telephone_band_removes_what_a_call_cannot_carry():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    high = (0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)  # above the 3.4 kHz band
    mid = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    rms = lambda x: float(np.sqrt((x[2000:-2000] ** 2).mean()))  # noqa: E731  (away from the onsets)
    assert rms(telephone_mp3(high)) < 0.01 < 0.15 < rms(telephone_mp3(mid))


def test_a_room_keeps_the_direct_sound_first():
    click = np.zeros(SAMPLE_RATE, np.float32)
    click[4000] = 0.5
    out = with_room(click)
    assert int(np.argmax(np.abs(out))) == 4000 and abs(out[4000]) == pytest.approx(0.5, rel=1e-3)
    assert np.abs(out[:4000]).max() < 1e-9 < 1e-3 < np.abs(out[4100:]).max()  # nothing before it, a tail after


def test_noise_is_added_at_the_asked_level():
    clean = voice()
    for snr in (0.0, 10.0):
        noise = with_noise(clean, snr) - clean
        loud = np.sort((clean[: len(clean) // 320 * 320].reshape(-1, 320) ** 2).mean(1))
        measured = 10 * np.log10(loud[len(loud) // 2 :].mean() / (noise**2).mean())
        assert abs(measured - snr) < 0.5
    assert set(DEGRADATIONS) == {"telephone+mp3", "noise 10 dB"}


def test_degraded_copies_are_cached(tmp_path):
    clip = Clip("a/b", "s", 25.0, voice(1.0), np.zeros((25, 3), np.float32), np.ones(25, bool))
    first = degraded(clip, "telephone+mp3", tmp_path)
    assert first.name == "a/b@telephone+mp3" and len(list(tmp_path.iterdir())) == 1
    again = degraded(clip, "telephone+mp3", tmp_path)  # read back: 16-bit, same audio
    assert np.abs(again.waveform - first.waveform).max() < 1e-4
    assert set(CODECS) >= {"telephone+mp3", "opus", "room", "babble"}
