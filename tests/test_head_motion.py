"""Speech -> head pose (audio2au.head_motion): the fit recovers a known ARX process, samples
are deterministic by seed, in range and start at the photo's pose, streaming gives the
offline numbers, a saved model loads back, silence keeps the head calm but alive, and
`talkinghead train head_motion` runs on generated clips. Generated data only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actionunits.prepared import ClipRecord, DatasetInfo, clip_dir, landmarks_path, write_clips, write_info
from audio2au import head_motion
from audio2au.features import SAMPLE_RATE, frame_count
from audio2au.head_motion import NO_REGIME, HeadMotion, choose_regime, fit_head_motion, hold_share, unit_t
from audio2au.prosody import FEATURE_NAMES, prosody
from talkinghead.cli import main
from talkinghead.errors import UserError
from talkinghead.face.au_tracker import RIGID, Calibration
from talkinghead.face.head_pose import rotation
from talkinghead.model_files import HEAD_MOTION_FILE, load_head_motion

F = len(FEATURE_NAMES)
SPEECH, LOUDNESS = FEATURE_NAMES.index("speech"), FEATURE_NAMES.index("loudness")


def speech_like(seconds: float, rng: np.random.Generator, pause: tuple[float, float] = (2.0, 3.0)) -> np.ndarray:
    """A gliding 90-200 Hz harmonic voice in 4 Hz syllables, silent (faint noise) in `pause`."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 140 + 50 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.sin(h * phase) / h for h in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5 * ((t < pause[0]) | (t >= pause[1]))
    return (0.1 * envelope * voice + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


def toy_model(lead: int = 0, df: tuple[float, float, float] = (30.0, 30.0, 30.0)) -> HeadMotion:
    """Smooth AR(2) per axis; speech doubles the innovation, loudness pitches the head;
    innovations Student-t of `df`."""
    log_sigma = np.zeros((3, F + 1))
    log_sigma[:, SPEECH], log_sigma[:, -1] = np.log(2.0), np.log(0.15)
    drive = np.zeros((3, F))
    drive[1, LOUDNESS] = 0.05
    return HeadMotion(np.tile([1.7, -0.74], (3, 1)), drive, np.zeros(3), log_sigma, np.array(df), lead)


def simulate(model: HeadMotion, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The unlimited process x_t driven by features[t] (the fit's regression, exactly)."""
    mean, sigma = model.innovation(features)
    x = np.zeros((len(features), 3))
    for t in range(2, len(features)):
        x[t] = model.ar[:, 0] * x[t - 1] + model.ar[:, 1] * x[t - 2] + mean[t] + sigma[t] * unit_t(model.df, rng)
    return x


def test_fit_recovers_a_known_arx_process():
    rng = np.random.default_rng(0)
    true = toy_model(df=(3.0, 4.0, 30.0))
    true.bias[:] = [0.02, -0.01, 0.0]
    true.log_sigma[2, LOUDNESS] = 0.3
    clips = []
    for s in range(6):
        for _ in range(4):
            n = 1500
            features = np.zeros((n, F))
            features[:, SPEECH] = (np.sin(np.arange(n) / rng.uniform(20, 60)) > -0.3).astype(float)
            features[:, LOUDNESS] = features[:, SPEECH] * rng.normal(0.3, 0.5, n) - 2 * (1 - features[:, SPEECH])
            features[:, 2:] = rng.normal(0, 0.3, (n, F - 2))
            clips.append((features, simulate(true, features, rng), f"spk{s}"))
    model, report = fit_head_motion(clips, lead=0)
    np.testing.assert_allclose(model.ar, true.ar, atol=0.02)
    np.testing.assert_allclose(model.drive, true.drive, atol=0.02)
    np.testing.assert_allclose(
        model.log_sigma[:, [SPEECH, LOUDNESS, -1]], true.log_sigma[:, [SPEECH, LOUDNESS, -1]], atol=0.1
    )  # heavy-tailed noise (df 3 and 4) makes the scale's level the noisiest estimate
    assert 2.6 <= model.df[0] <= 3.6 and 3.2 <= model.df[1] <= 5.0 and model.df[2] >= 10  # heavy tails found
    assert report["stable"] and report["speakers"] == 6
    speech, silence = report["stationary_std_deg"]["speech"], report["stationary_std_deg"]["silence"]
    assert all(a > b for a, b in zip(speech, silence))


def test_a_lead_lets_the_head_hear_ahead():
    rng = np.random.default_rng(1)
    true = toy_model()
    n = 3000
    features = np.zeros((n, F))
    features[:, LOUDNESS] = rng.normal(0, 1, n)
    x = simulate(true, np.roll(features, -3, axis=0), rng)  # x_t driven by f_{t+3}
    fits = {lead: fit_head_motion([(features, x, "a")], lead=lead) for lead in (0, 3)}
    gain = {lead: report["axes"]["pitch"]["mean_r2_gain_from_prosody"] for lead, (_, report) in fits.items()}
    assert gain[3] > 5 * gain[0]
    assert abs(fits[3][0].drive[1, LOUDNESS] - true.drive[1, LOUDNESS]) < 0.01


def test_samples_are_in_range_start_at_the_photo_and_follow_the_seed():
    wav = speech_like(6.0, np.random.default_rng(0))
    wild = toy_model()
    wild.log_sigma[:, -1] = np.log(3.0)  # far more motion than the limits allow
    n = frame_count(len(wav), 30.0)
    a = wild.sample(wav, 30.0, n, np.random.default_rng(5))
    assert a.shape == (n, 3) and a.dtype == np.float32
    assert np.all(a[0] == 0) and np.all(np.abs(a) <= np.array(wild.limit))
    np.testing.assert_array_equal(a, wild.sample(wav, 30.0, n, np.random.default_rng(5)))
    assert not np.allclose(a, wild.sample(wav, 30.0, n, np.random.default_rng(6)))


@pytest.mark.parametrize(("fps", "lead", "regime"), [(25.0, 0, None), (29.97, 0, None), (30.0, 3, (0.1, 0.8, 0.6))])
def test_streaming_gives_the_offline_frames(fps, lead, regime):
    wav = speech_like(4.0, np.random.default_rng(2))
    model = toy_model()
    if regime is not None:
        model.regime = np.array(regime)
    offline = model.sample(wav, fps, frame_count(len(wav), fps), np.random.default_rng(7), lead=lead)
    stream = model.stream(fps, np.random.default_rng(7), lead=lead)
    chunks, i, sizes = [], 0, np.random.default_rng(3)
    while i < len(wav):
        size = int(sizes.integers(1, 2000))
        chunks.append(stream.push(wav[i : i + size]))
        i += size
    chunks.append(stream.flush())
    np.testing.assert_array_equal(np.concatenate(chunks), offline)


def test_a_hold_regime_makes_the_head_hold_then_turn():
    """With a quiet hold state the head rests between turns (more frames under HOLD_SPEED)
    while it still moves; choose_regime picks the regime whose hold share is the real one."""
    rng = np.random.default_rng(4)
    model = toy_model()
    features = np.zeros((3000, F))
    sway = hold_share(head_motion.simulate(model, features, 3000, np.random.default_rng(0)))
    model.regime = np.array([0.05, 1.2, 0.8])
    held = head_motion.simulate(model, features, 3000, np.random.default_rng(0))
    assert hold_share(held) > sway + 0.1 and held.std(axis=0).min() > 0.3
    real = [(features[:600], head_motion.simulate(model, features, 600, rng), f"spk{s}") for s in range(4)]
    model.regime = np.array(NO_REGIME)
    report = choose_regime(model, real, [NO_REGIME, (0.05, 1.2, 0.8)])
    assert tuple(model.regime) == (0.05, 1.2, 0.8) and report["chosen"]["regime"] == [0.05, 1.2, 0.8]


def test_prosody_finds_speech_and_pitch():
    wav = speech_like(5.0, np.random.default_rng(3))
    f = prosody(wav)
    assert f.shape == (125, F)
    assert f[10:50, SPEECH].mean() > 0.9 and f[57:75, SPEECH].mean() < 0.1  # speech, then the pause at 2-3 s
    voiced = f[:, FEATURE_NAMES.index("voiced")] > 0
    assert voiced[:50].mean() > 0.5 and not voiced[57:75].any()


def test_save_and_load(tmp_path):
    model = toy_model(lead=4)
    model.info = {"speakers": 3, "note": "toy"}
    model.save(tmp_path / HEAD_MOTION_FILE)
    back = load_head_motion(tmp_path)
    for name in ("ar", "drive", "bias", "log_sigma"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    assert back.lead == 4 and back.limit == model.limit and back.info == model.info
    (tmp_path / HEAD_MOTION_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        load_head_motion(tmp_path)


def calm_in_silence(model: HeadMotion) -> None:
    rng = np.random.default_rng(4)
    silence = 1e-4 * rng.standard_normal(20 * SAMPLE_RATE).astype(np.float32)
    speech = speech_like(20.0, rng, pause=(0.0, 0.0))
    quiet = model.sample(silence, 25.0, 500, np.random.default_rng(1))[50:]
    busy = model.sample(speech, 25.0, 500, np.random.default_rng(1))[50:]
    speed = lambda p: np.abs(np.diff(p, axis=0)).mean() * 25  # noqa: E731
    assert quiet.std(0).mean() > 0.3  # never frozen
    assert speed(quiet) < speed(busy)


def test_silence_keeps_the_head_calm_but_alive():
    calm_in_silence(toy_model())


def test_the_shipped_model_if_present():
    try:
        model = load_head_motion(None)
    except UserError:
        pytest.skip("no head_motion.pt shipped")
    assert (model.roots() < 1).all()
    calm_in_silence(model)


def test_train_head_motion_on_generated_clips(tmp_path):
    """Heads turn by a known slow process in front of speech-like audio; the trainer fits,
    writes the model and a report with the held-out comparison."""
    rng = np.random.default_rng(0)
    root = tmp_path / "prepared"
    write_info(root, DatasetInfo(100, ("jawOpen",)))
    reference = Calibration.load().reference
    records = []
    for s in range(4):
        rest = rng.normal(0, 0.5, (478, 3))
        rest[list(RIGID)] = reference
        wav = speech_like(6.0, rng)
        n = frame_count(len(wav), 25.0)
        angles = simulate(toy_model(), prosody(wav, 25.0, n), rng) * 4
        name = f"spk{s}_clip"
        clip_dir(root, name).mkdir(parents=True)
        photo = 80 * np.einsum("nij,pj->npi", rotation(angles), rest) + 200
        np.save(landmarks_path(root, name), photo.astype(np.float32))
        import soundfile

        soundfile.write(clip_dir(root, name) / "audio.wav", wav, SAMPLE_RATE, subtype="PCM_16")
        records.append(ClipRecord(name, f"spk{s}", 25.0, n, "audio.wav"))
    write_clips(root, records)
    run_dir = tmp_path / "run"
    args = ["train", "head_motion", f"data.root={root}", f"run_dir={run_dir}", "data.exclude_speakers=[spk3]"]
    assert main([*args, "lead_scan=[0]", "eval_seeds=1"]) == 0
    model = HeadMotion.load(run_dir / HEAD_MOTION_FILE)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["speakers"] == 3 and report["stable"] and (model.roots() < 1).all()
    held = report["heldout"]
    assert held["speakers"] == 1 and held["real_rot_std_mean"] > 0.5 and held["model_rot_std_mean"] > 0.1
