"""Lip sync against the real mouth: the lip gap from landmarks, the loudness and voice
activity per frame, per-speaker correlations and silence levels, and the command."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from face_mesh import face_mesh

from actionunits.checkpoint import atomic_save
from actionunits.prepared import clip_dir, read_clips
from audio2au.checkpoint import checkpoint_dict
from audio2au.data import load_clips, speed_perturb
from audio2au.features import SAMPLE_RATE, FeatureConfig
from audio2au.frame_measures import (
    AU_GAP_WEIGHTS,
    LIP_OPENING_AUS,
    au_lip_gap,
    frame_rms_db,
    gated_loudness,
    lip_gap,
    speech_frames,
)
from audio2au.lipsync import audio_levels, clip_series, lip_levels, lip_sync, main, speaker_sync
from audio2au.model import Audio2AU, Audio2AUNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = (
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "browInnerUp",
)


def bursts(
    n_frames: int = 100, fps: float = 25.0, on: tuple[int, int] = (30, 70), amp: float = 0.3, seed: int = 0
) -> np.ndarray:
    """Quiet noise with a loud tone during frames on[0]..on[1]."""
    rng = np.random.default_rng(seed)
    n = int(n_frames * SAMPLE_RATE / fps)
    wav = rng.normal(0, 1e-4, n)
    a, b = (int(f * SAMPLE_RATE / fps) for f in on)
    wav[a:b] += amp * np.sin(2 * np.pi * 220 * np.arange(b - a) / SAMPLE_RATE)
    return wav.astype(np.float32)


def test_lip_gap_is_the_inner_lip_distance_over_the_eye_distance():
    gaps = np.array([0.0, 0.05, 0.2])
    got = lip_gap(face_mesh(gaps))
    assert np.allclose(got, gaps, atol=1e-6)
    assert np.allclose(lip_gap(face_mesh(gaps, eye_distance=40.0, scale=3.0)), gaps, atol=1e-6)  # scale-free
    no_face = face_mesh(gaps)
    no_face[1] = np.nan
    assert np.isnan(lip_gap(no_face)[1]) and np.isfinite(lip_gap(no_face)[[0, 2]]).all()
    with pytest.raises(ValueError, match="landmarks"):
        lip_gap(np.zeros((3, 68, 2)))


def test_au_lip_gap_weighs_the_named_aus():
    aus = np.zeros((2, len(NAMES)), np.float32)
    aus[0, NAMES.index("jawOpen")] = 0.4
    aus[1, NAMES.index("mouthClose")] = 0.3
    aus[1, NAMES.index("mouthLowerDownLeft")] = 0.8
    got = au_lip_gap(aus, NAMES)
    assert got[0] == pytest.approx(0.4 * AU_GAP_WEIGHTS["jawOpen"])
    assert got[1] == pytest.approx(0.8 * AU_GAP_WEIGHTS["mouthLowerDownLeft"] + 0.3 * AU_GAP_WEIGHTS["mouthClose"])
    assert np.all(au_lip_gap(aus, ("browInnerUp",) * len(NAMES)) == 0)  # no mouth AU: no gap


def test_frame_level_and_voice_activity():
    wav = bursts()
    level = frame_rms_db(wav, 25, 100)[:, 0]
    tone_db = 20 * np.log10(0.3 / np.sqrt(2))
    assert np.allclose(level[35:65], tone_db, atol=0.2)
    assert level[:25].max() < -70
    assert frame_rms_db(np.zeros(100, np.float32), 25, 3)[:, 0] == pytest.approx([-100.0] * 3, abs=1e-6)
    speech = speech_frames(level, 25)
    assert speech[31:70].all() and not speech[:29].any() and not speech[72:].any()
    assert np.array_equal(speech_frames(frame_rms_db(wav * 20, 25, 100)[:, 0], 25), speech)  # any recording gain
    gated = gated_loudness(level)
    assert np.all(gated[~speech] == 0) and np.all(gated[35:65] > 20)


def test_voice_activity_finds_pauses_above_a_high_noise_floor_and_fills_short_ones():
    """A studio noise floor 25 dB under the voice (the 30 dB rule alone calls it speech);
    a 2-frame dip inside speech (a stop closure) stays speech, a 10-frame pause does not."""
    rng = np.random.default_rng(1)
    n, fps = 125, 25.0
    amp = np.full(n, 0.3 * 10 ** (-25 / 20))
    amp[20:50] = amp[52:70] = amp[80:110] = 0.3
    wav = rng.normal(0, 1, int(n * SAMPLE_RATE / fps)) * np.repeat(amp, SAMPLE_RATE // int(fps))
    speech = speech_frames(frame_rms_db(wav.astype(np.float32), fps, n)[:, 0], fps)
    assert not speech[:18].any() and not speech[73:77].any() and not speech[113:].any()
    assert speech[22:68].all() and speech[82:108].all()  # frames 50-51 filled


def test_clip_series_and_speaker_scores():
    n, fps = 100, 25.0
    wav = bursts(n, fps)
    gap = np.where(np.arange(n) % 10 < 5, 0.2, 0.0) * (np.arange(n) >= 30) * (np.arange(n) < 70)
    gap[0] = np.nan  # no face in frame 0
    pred = np.zeros((n, len(NAMES)), np.float32)
    pred[:, NAMES.index("jawOpen")] = np.nan_to_num(gap)  # follows the mouth exactly
    pred[:, NAMES.index("mouthFunnel")] = 0.05  # a constant offset: the lip gap still follows
    tracker = pred[::-1].copy()  # a tracker that is out of step
    series, speech = clip_series(pred, tracker, NAMES, wav, fps)
    assert set(series) == {
        "model jawOpen",
        "model lip gap",
        "loudness",
        "gated loudness",
        "tracker jawOpen",
        "tracker lip gap",
    }
    assert series["loudness"].max() == pytest.approx(0.0, abs=0.5)  # dB relative to the loud frames
    row = speaker_sync("spk", [gap], [speech], [series], *map(lambda a: [a], lip_levels(pred, NAMES)))
    assert row.frames == n - 1 and row.speech_frames == int(speech[1:].sum())
    assert row.r_all["model jawOpen"] == pytest.approx(1.0) and row.r_all["model lip gap"] == pytest.approx(1.0)
    assert row.r_speech["model jawOpen"] == pytest.approx(1.0)
    assert row.r_all["tracker jawOpen"] < 0.5
    # loudness knows when speech is on but not the syllables: within speech it explains nothing
    assert row.r_all["gated loudness"] > 0.3 and abs(row.r_speech["loudness"]) < 0.2
    lips = [NAMES.index(a) for a in LIP_OPENING_AUS]
    assert row.lips_silence == pytest.approx(pred[~speech][:, lips].mean())
    assert row.jaw_silence == pytest.approx(0.0) and row.jaw_speech > 0.05


def _tiny_model(names: tuple[str, ...]) -> Audio2AU:
    torch.manual_seed(0)
    feats = FeatureConfig()
    net = Audio2AUNet(
        feats.dim, feats.window, len(names), conv_channels=4, hidden=8, layers=1, bidirectional=False, lookahead=1
    )
    return Audio2AU(
        net.eval(),
        feats,
        names,
        25.0,
        {"model": {}, "info": {"train_speakers": ["spk00", "spk01"], "val_speakers": ["spk02"]}},
    )


def test_lip_sync_scores_each_speaker_with_landmarks(synthetic_dataset):
    clips, names = load_clips(synthetic_dataset)
    assert all(c.gap is None for c in clips)  # the synthetic set has no landmarks
    for c in clips:
        c.gap = np.clip(c.aus[:, names.index("jawOpen")] * 0.3, 0, None)
    clips[0].gap = None
    rows = lip_sync(_tiny_model(names), clips)
    assert [r.speaker for r in rows] == sorted({c.speaker for c in clips})
    first = [c for c in clips if c.speaker == rows[0].speaker]
    assert rows[0].frames == sum(len(c.aus) for c in first if c.gap is not None)
    assert all(r.r_all["tracker jawOpen"] == pytest.approx(1.0) for r in rows)  # gap made from the labels
    levels = audio_levels(_tiny_model(names), clips[1].waveform)
    assert set(levels) == {"silence", "speech"} and levels["speech"].shape == (4,)
    assert levels["speech"][0] <= levels["speech"][1] <= levels["speech"][2]


def test_landmarks_load_with_the_clips_and_follow_speed_perturbation(synthetic_dataset, tmp_path, capsys):
    root = tmp_path / "prepared"
    shutil.copytree(synthetic_dataset, root)
    for rec in read_clips(root):
        n = rec.n_frames
        np.save(clip_dir(root, rec.clip) / "landmarks.npy", face_mesh(np.linspace(0, 0.2, n)))
    clips, names = load_clips(root)
    assert np.allclose(clips[0].gap, np.linspace(0, 0.2, len(clips[0].aus)), atol=1e-6)
    slow = speed_perturb(clips[0], 0.9)
    assert len(slow.gap) == len(slow.aus) and slow.gap[-1] == pytest.approx(clips[0].gap[-1], abs=0.01)

    model = _tiny_model(names)
    model.meta["model"] = dict(
        n_features=model.features.dim,
        window=model.features.window,
        n_aus=len(names),
        conv_channels=4,
        hidden=8,
        layers=1,
        bidirectional=False,
        lookahead=1,
    )
    ckpt = atomic_save(checkpoint_dict(model, half=True), tmp_path / "a2a.pt")
    assert main([str(ckpt), "--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "spk02" in out and "spk00" not in out  # speakers it trained on are not scored
    assert "mean validation (1)" in out and "mean test (1)" in out
    assert main([str(ckpt), "--data", str(root), "--speakers", "spk0[01]"]) == 0
    assert "SEEN IN TRAINING" in capsys.readouterr().out
