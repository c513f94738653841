"""audio2au training targets and losses for the renderer: rest-relative labels, a closed
mouth in silence, frames weighted by the measured lip gap, noise augmentation, CCC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audio2au.data import (
    Clip,
    FeatureBank,
    gap_weights,
    rest_relative,
    silence_weights,
    silent_frames,
    speech_gap,
    speech_targets,
)
from audio2au.features import SAMPLE_RATE, FeatureConfig, compute_features, noise_mix
from audio2au.losses import audio2au_loss, ccc_loss, gap_correlation_loss, masked_mse

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ("jawOpen", "mouthClose", "browInnerUp")
FPS = 25.0


def talk_then_pause(n: int = 100, speech: tuple[int, int] = (20, 60)) -> Clip:
    """A clip with a loud tone in frames speech[0]..speech[1], quiet noise elsewhere; the
    labels read jawOpen 0.2 at rest and 0.6 while talking, the brow 0.3 throughout, and the
    mouth stays parted (0.4) for a while after the voice stops."""
    rng = np.random.default_rng(0)
    wav = rng.normal(0, 1e-4, int(n * SAMPLE_RATE / FPS))
    a, b = (int(f * SAMPLE_RATE / FPS) for f in speech)
    wav[a:b] += 0.3 * np.sin(2 * np.pi * 200 * np.arange(b - a) / SAMPLE_RATE)
    aus = np.zeros((n, len(NAMES)), np.float32)
    aus[:, 0] = 0.2
    aus[speech[0] : speech[1], 0] = 0.6
    aus[speech[1] : speech[1] + 15, 0] = 0.4
    aus[:, 2] = 0.3
    gap = np.where(aus[:, 0] > 0.5, 0.2, 0.01).astype(np.float32)
    gap[0] = np.nan
    return Clip("c", "spk", FPS, wav.astype(np.float32), aus, np.ones(n, bool), gap)


def test_rest_relative_subtracts_each_columns_rest():
    aus = np.array([[0.2, 0.5], [0.3, 0.5], [0.9, 0.1]], np.float32)
    out = rest_relative(aus, [0], 0.0)
    assert np.allclose(out[:, 0], [0.0, 0.1, 0.7]) and np.array_equal(out[:, 1], aus[:, 1])
    assert np.all(rest_relative(aus, [0, 1], 50.0) >= 0)  # clipped: below-rest frames are at rest


def test_speech_targets_close_the_mouth_in_silence_only():
    clip = talk_then_pause()
    quiet = silent_frames(clip.waveform, FPS, 100, before=2, after=2)
    assert not quiet[18:63].any() and quiet[:17].all() and quiet[63:].all()
    early = silent_frames(clip.waveform, FPS, 100, before=6, after=0)
    assert not early[14:61].any() and early[:13].all() and early[61:].all()
    out = speech_targets(clip, NAMES, rest_aus=["jawOpen"], silence_aus=["jawOpen"], hangover=(2, 2))
    assert np.allclose(out.aus[25:55, 0], 0.4)  # 0.6 over the rest of 0.2
    assert np.all(out.aus[quiet, 0] == 0)  # the parted lips of the pause are closed
    assert np.allclose(out.aus[60:62, 0], 0.2)  # within the hang-over they stay as labelled
    assert np.array_equal(out.aus[:, 2], clip.aus[:, 2]) and out.gap is clip.gap
    assert np.array_equal(speech_targets(clip, NAMES).aus, clip.aus)  # nothing asked, nothing changed
    with pytest.raises(ValueError, match="mouthFunnel"):
        speech_targets(clip, NAMES, silence_aus=["mouthFunnel"])


def test_speech_gap_leaves_pauses_out():
    clip = talk_then_pause()
    gap = speech_gap(clip, (2, 2))
    quiet = silent_frames(clip.waveform, FPS, 100, 2, 2)
    assert np.isnan(gap[quiet]).all() and np.array_equal(gap[25:55], clip.gap[25:55])
    bank = FeatureBank([clip], FeatureConfig(), gaps=[gap])
    assert torch.isnan(bank.gaps[0][5]) and bank.gaps[0][30] == pytest.approx(0.2)
    clip.gap = None
    assert speech_gap(clip) is None


def test_silence_weights_weigh_the_pauses():
    clip = talk_then_pause()
    w = silence_weights(clip, 5.0, (2, 2))
    quiet = silent_frames(clip.waveform, FPS, 100, 2, 2)
    assert np.all(w[quiet] == 5.0) and np.all(w[~quiet] == 1.0) and quiet.any() and (~quiet).any()
    assert np.all(silence_weights(clip, 1.0) == 1.0)


def test_gap_weights_favour_open_lips():
    clip = talk_then_pause()
    w = gap_weights(clip, 3.0)
    assert w[30] == pytest.approx(4.0) and w[5] == pytest.approx(1.0) and w[0] == pytest.approx(1.0)  # NaN gap: 1
    assert np.all(gap_weights(clip, 0.0) == 1)
    clip.gap = None
    assert np.all(gap_weights(clip, 3.0) == 1)


def test_feature_bank_weights_are_valid_times_frame_weights():
    clip = talk_then_pause()
    clip.valid[:10] = False
    bank = FeatureBank([clip], FeatureConfig(), lookahead=1, frame_weights=[gap_weights(clip, 1.0)])
    x, y, w, gap = bank.sample(2, 100, torch.Generator().manual_seed(0))
    assert x.shape[:2] == (2, 101) and y.shape == (2, 100, 3)
    assert torch.all(w[:, :10] == 0) and w[0, 30] == pytest.approx(2.0) and w[0, 80] == pytest.approx(1.0)
    assert torch.isnan(gap[0, 0]) and gap[0, 30] == pytest.approx(0.2)


def test_noise_mix_fills_the_pauses_and_spares_loud_speech():
    cfg = FeatureConfig()
    clip = talk_then_pause()
    x = compute_features(clip.waveform, FPS, 100, cfg)[None]
    clean = noise_mix(x, torch.tensor([300.0]), torch.tensor([0.0]), cfg)
    assert torch.allclose(clean, x, atol=1e-4)
    noisy = noise_mix(x, torch.tensor([20.0]), torch.tensor([0.0]), cfg)
    ref = x.exp().mean(-1).max()
    assert torch.allclose(noisy[0, 5], torch.log(x[0, 5].exp() + ref * 0.01), rtol=1e-4)  # pause: noise floor
    loud = x[0, 40] > x[0, 40].max() - 3  # bands within 3 nepers of the loudest hardly change
    assert (noisy[0, 40][loud] - x[0, 40][loud]).abs().max() < 0.1
    tilted = noise_mix(x, torch.tensor([20.0]), torch.tensor([12.0]), cfg)
    assert tilted[0, 5, :, -1].mean() > tilted[0, 5, :, 0].mean()  # the high bands get more noise
    with pytest.raises(ValueError, match="log-mel"):
        noise_mix(x, torch.tensor([20.0]), torch.tensor([0.0]), FeatureConfig(kind="mfcc"))


def test_weighted_losses():
    target = torch.rand(2, 10, 3)
    pred = target.clone()
    pred[..., 2] += 0.5
    mask = torch.ones(2, 10)
    assert masked_mse(pred, target, mask, torch.tensor([1.0, 1.0, 0.0])).item() == pytest.approx(0.0, abs=1e-7)
    assert masked_mse(pred, target, mask).item() == pytest.approx(0.25 / 3, rel=1e-5)
    frames = torch.ones(2, 10)
    frames[:, 5:] = 3.0
    pred2 = target.clone()
    pred2[:, 5:] += 0.2  # the error sits in the heavy frames
    assert masked_mse(pred2, target, frames).item() == pytest.approx(0.04 * 0.75, rel=1e-4)


def test_ccc_loss_punishes_a_damped_prediction():
    t = torch.sin(torch.linspace(0, 12, 200)).reshape(2, 100, 1) * 0.3 + 0.4
    mask = torch.ones(2, 100)
    assert ccc_loss(t, t, mask, [0]).item() == pytest.approx(0.0, abs=1e-5)
    damped = 0.4 + (t - 0.4) * 0.3  # perfectly correlated, a third of the range
    assert ccc_loss(damped, t, mask, [0]).item() > 0.3
    assert ccc_loss(torch.full_like(t, 0.4), t, mask, [0]).item() == pytest.approx(1.0, abs=1e-4)
    loss, parts = audio2au_loss(damped, t, mask, 1.0, ccc_weight=2.0, ccc_columns=[0])
    assert parts["ccc"] > 0.3 and loss.item() == pytest.approx(
        parts["mse"] + parts["velocity"] + 2 * parts["ccc"], rel=1e-5
    )


def test_gap_correlation_loss_follows_the_measured_mouth_at_any_scale():
    gap = torch.sin(torch.linspace(0, 9, 60)).repeat(3, 1) * 0.1 + 0.1
    gap[2] = float("nan")  # a sequence without a face is left out
    mask = torch.ones(3, 60)
    pred = gap.nan_to_num(0.0) * 5 + 0.3  # another scale and rest: still a perfect mouth
    assert gap_correlation_loss(pred, gap, mask).item() == pytest.approx(0.0, abs=1e-5)
    assert gap_correlation_loss(-pred, gap, mask).item() == pytest.approx(2.0, abs=1e-5)
    mask[:, 30:] = 0
    noisy = pred.clone()
    noisy[:, 30:] = torch.rand(3, 30)  # errors where the weight is 0 do not count
    assert gap_correlation_loss(noisy, gap, mask).item() == pytest.approx(0.0, abs=1e-5)
    none = gap_correlation_loss(pred.requires_grad_(), torch.full_like(gap, float("nan")), mask)
    none.backward()
    assert none.item() == 0.0 and torch.all(pred.grad == 0)
