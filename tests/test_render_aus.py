"""AU post-processing and AU CSV reading (no models, no media: fast)."""

from __future__ import annotations

import numpy as np
import pytest

from actionunits import AU_NAMES, AUSeries
from actionunits.series import smooth_in_time
from gath.postprocess import Enhance
from talkinghead.aupost import EMOTIONS, PostOptions, parse_emotion, parse_overrides, postprocess, resample
from talkinghead.errors import UserError
from talkinghead.io.au_csv import name_key, read_au_csv

FPS = 25.0


def speech_like(n: int = 250) -> AUSeries:
    v = np.zeros((n, len(AU_NAMES)), np.float32)
    v[:, AU_NAMES.index("jawOpen")] = 0.5 + 0.4 * np.sin(np.arange(n) / 2.0)
    return AUSeries(v, FPS)


def col(series: AUSeries, name: str) -> np.ndarray:
    return series.values[:, series.names.index(name)]


def test_blinks_are_added_at_a_human_rate_and_seeded():
    a = postprocess(speech_like(), PostOptions(seed=1))
    b = postprocess(speech_like(), PostOptions(seed=1))
    c = postprocess(speech_like(), PostOptions(seed=2))
    blink = col(a, "eyeBlinkLeft")
    closed = np.flatnonzero((blink[1:] >= 0.9) & (blink[:-1] < 0.9))  # onsets of full closure
    assert 1 <= len(closed) <= 6  # 10 s: people blink every 2-6 s
    assert np.array_equal(blink, col(a, "eyeBlinkRight"))
    assert np.array_equal(a.values, b.values) and not np.array_equal(a.values, c.values)
    assert np.all(col(postprocess(speech_like(), PostOptions(blinks=False)), "eyeBlinkLeft") == 0)


def test_idle_brows_move_slowly_and_stay_subtle():
    brow = col(postprocess(speech_like(), PostOptions(blinks=False)), "browInnerUp")
    assert 0 < brow.max() <= 0.2 and brow.std() > 0.005
    assert np.abs(np.diff(brow)).max() < 0.02  # no jumps between frames


def test_expressiveness_emotion_and_overrides():
    base = speech_like()
    half = postprocess(base, PostOptions(expressiveness=0.5, blinks=False, idle=False, smooth_s=0))
    assert np.allclose(col(half, "jawOpen"), col(base, "jawOpen") * 0.5, atol=1e-6)
    happy = postprocess(base, PostOptions(emotion={"happy": 0.5}, blinks=False, idle=False))
    assert np.allclose(col(happy, "mouthSmileLeft"), 0.5 * EMOTIONS["happy"]["mouthSmileLeft"])
    fixed = postprocess(base, PostOptions(overrides={"jawOpen": 0.0, "eyeBlinkLeft": 1.0}))
    assert np.all(col(fixed, "jawOpen") == 0) and np.all(col(fixed, "eyeBlinkLeft") == 1)
    assert fixed.values.min() >= 0 and fixed.values.max() <= 1


def test_photo_expression_is_held_and_speech_adds_to_its_rest():
    from talkinghead.aupost import SPEECH_AUS, StreamPost

    series = speech_like()
    base = np.linspace(0.1, 0.6, len(AU_NAMES)).astype(np.float32)
    options = PostOptions(smooth_s=0.0, blinks=False, idle=False, emotion={"happy": 1.0})
    out = postprocess(series, options, base)
    live = StreamPost(AU_NAMES, series.fps, options, base=base)(series.values)
    for i, name in enumerate(AU_NAMES):
        expected = series.values[:, i] + base[i] if name in SPEECH_AUS else np.full(len(series), base[i])
        expected = np.clip(expected + options.emotion["happy"] * EMOTIONS["happy"].get(name, 0.0), 0, 1)
        assert np.allclose(out.values[:, i], expected, atol=1e-6), name
        assert np.allclose(live[:, i], expected, atol=1e-6), name
    assert np.array_equal(postprocess(series, options).values[:, 0], np.clip(series.values[:, 0], 0, 1))


def test_smoothing_keeps_timing():
    x = np.zeros((101, 1))
    x[50] = 1.0
    y = smooth_in_time(x, FPS, 0.04)[:, 0]
    assert int(np.argmax(y)) == 50 and abs(y.sum() - 1) < 1e-6


def test_resample_to_another_rate():
    s = resample(speech_like(50), 30.0, 60)
    assert len(s) == 60 and s.fps == 30.0
    assert np.isclose(col(s, "jawOpen")[0], col(speech_like(50), "jawOpen")[0])


@pytest.mark.parametrize(
    "text,expected", [("happy", {"happy": 1.0}), ("sad=0.3, angry=0.2", {"sad": 0.3, "angry": 0.2})]
)
def test_parse_emotion(text, expected):
    assert parse_emotion(text) == expected


@pytest.mark.parametrize("text", ["bored", "happy=2", "happy=x"])
def test_parse_emotion_errors(text):
    with pytest.raises(ValueError):
        parse_emotion(text)


def test_parse_overrides_repeatable():
    assert parse_overrides(["jawOpen=0.6,mouthSmileLeft=0.8", "jawOpen=0.1"]) == {"jawOpen": 0.1, "mouthSmileLeft": 0.8}


def test_enhance_switches():
    rng = np.random.default_rng(0)
    clean = np.repeat(np.repeat(rng.integers(40, 215, (10, 10, 3)), 10, 0), 10, 1).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    assert Enhance.parse("all") == Enhance()
    assert Enhance.parse("clahe") == Enhance(True, False, False)
    out = Enhance.parse("denoise")(noisy[None])
    assert out.shape == (1, 100, 100, 3) and out.dtype == np.uint8
    assert np.abs(out[0] - clean).mean() < 0.7 * np.abs(noisy - clean).mean()
    low_contrast = (noisy // 4 + 100).astype(np.uint8)
    assert Enhance.parse("clahe")(low_contrast).std() > 1.5 * low_contrast.std()
    with pytest.raises(ValueError):
        Enhance.parse("blur")


@pytest.mark.parametrize(
    "raw,name",
    [
        ("JawOpen", "jawOpen"),
        ("eyeBlink_L", "eyeBlinkLeft"),
        ("mouthSmile_R", "mouthSmileRight"),
        ("browInnerUp", "browInnerUp"),
    ],
)
def test_arkit_spellings(raw, name):
    assert name_key(raw) == name_key(name)


def test_read_project_csv_round_trip(tmp_path):
    s = speech_like(40)
    s.write_csv(tmp_path / "aus.csv")
    back = read_au_csv(tmp_path / "aus.csv")
    assert back.names == AU_NAMES and back.fps == pytest.approx(FPS, rel=1e-3)
    assert np.allclose(back.values, s.values, atol=1e-4)


def test_read_arkit_raw_value_csv(tmp_path):
    rows = ["timestamp,jawOpen,eyeBlink_L,eyeBlink_R,mouthSmile_L,tongueOut"]
    rows += [f"{i / 30:.4f},{i / 30:.3f},0.1,0.2,1.5,0.9" for i in range(30)]
    (tmp_path / "a.csv").write_text("\n".join(rows))
    s = read_au_csv(tmp_path / "a.csv")
    assert s.fps == pytest.approx(30.0, rel=1e-3) and s.names == AU_NAMES
    assert np.allclose(col(s, "eyeBlinkRight"), 0.2) and np.allclose(col(s, "mouthSmileLeft"), 1.0)
    assert np.all(col(s, "browInnerUp") == 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "time,foo\n0,1\n0.04,2\n",
        "time,jawOpen\n0,0.1\n0,0.2\n",
        "jawOpen\n0.1\n0.2\n",
        "time,jawOpen\n0,abc\n0.04,0.2\n",
    ],
)
def test_bad_csv_is_one_line_user_error(tmp_path, text):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(UserError) as e:
        read_au_csv(tmp_path / "bad.csv")
    assert "\n" not in str(e.value)
