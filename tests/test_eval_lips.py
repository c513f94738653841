"""`talkinghead eval`'s lip sync end to end: the measures of evaluation.lips and
evaluation.head on arrays with known answers, the evaluated audio2au reaching `render`, the
report section with its goals, and one held-out clip rendered and scored against its real
lips and head."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from audio2au.head_measures import raw_speed, rotation_std
from talkinghead.cli import main
from talkinghead.commands.render import RenderOptions
from talkinghead.evaluation import run
from talkinghead.evaluation.head import (
    background_difference,
    background_mask,
    head_means,
    head_stats,
    speech_relation,
)
from talkinghead.evaluation.lips import (
    CLEAN,
    STILL_HEAD,
    closure_recall,
    closures,
    lips_end_to_end,
    mean_rows,
    mouth_group,
    pearson,
    score,
)
from talkinghead.evaluation.report import jsonable, markdown
from talkinghead.evaluation.run import EvalOptions, render_lips
from talkinghead.evaluation.sync import lip_gap_summary
from talkinghead.model_files import AUDIO2AU_FILE

NOISE = "noise 10 dB"
OPEN_, SHUT = 0.1, 0.01  # real lip gaps, over and under lips.CLOSED_REAL
FPS = 25.0


def test_closures_are_runs_of_shut_lips_within_speech():
    gap = np.array([OPEN_, SHUT, SHUT, OPEN_, SHUT, OPEN_, SHUT, SHUT, SHUT, np.nan, SHUT, SHUT])
    speech = np.ones(len(gap), bool)
    assert closures(gap, speech) == [(1, 3), (6, 9), (10, 12)]  # one shut frame is no closure; NaN is open
    speech[6:9] = False
    assert closures(gap, speech) == [(1, 3), (10, 12)]


def test_closure_recall_counts_render_closures_within_the_slack():
    real = np.array([OPEN_] * 2 + [SHUT] * 3 + [OPEN_] * 10 + [SHUT] * 3 + [OPEN_] * 2)  # shut at 2-4, 15-17
    speech = np.ones(len(real), bool)
    rendered = np.full(len(real), OPEN_)
    rendered[6] = 0.02  # shuts 2 frames after the first closure ends: within the slack
    assert closure_recall(rendered, real, speech) == (0.5, 2)
    rendered[6] = np.nan  # a frame without a face never counts as shut
    assert closure_recall(rendered, real, speech) == (0.0, 2)
    assert math.isnan(closure_recall(rendered, np.full(len(real), OPEN_), speech)[0])
    assert closure_recall(rendered, np.full(len(real), OPEN_), speech)[1] == 0


def test_pearson_ignores_missing_frames_and_needs_ten_varying_ones():
    a = np.arange(20, dtype=float)
    b = -2 * a + 1
    b[3] = np.nan
    assert pearson(a, b) == pytest.approx(-1.0)
    assert math.isnan(pearson(a[:9], b[:9]))  # fewer than 10 frames
    assert math.isnan(pearson(a, np.ones(20)))  # a constant
    noisy = a.copy()
    noisy[10:] = np.random.default_rng(0).normal(size=10)
    mask = np.arange(20) < 10
    assert pearson(noisy, a, mask) == pytest.approx(1.0) and pearson(noisy, a) < 0.9


def test_score_adds_amplitude_and_closures_for_lip_gaps_only():
    real = np.array([OPEN_, SHUT, SHUT, 0.2] * 5)
    speech = np.ones(len(real), bool)
    assert set(score(real, real, speech, gap_units=False)) == {"r", "r_speech"}
    half = score(real / 2, real, speech, gap_units=True)
    assert half["r"] == pytest.approx(1.0) and half["r_speech"] == pytest.approx(1.0)
    assert half["amplitude"] == pytest.approx(0.5)
    assert half["closure_recall"] == 1.0 and half["closures"] == 5  # halved shut lips are still shut
    wide = score(real + 0.05, real, speech, gap_units=True)
    assert wide["amplitude"] == pytest.approx(1.0) and wide["closure_recall"] == 0.0  # never shuts


def test_mouth_group_of_the_photo():
    assert mouth_group(0.01, 0.9) == "closed"
    assert mouth_group(0.05, 0.0) == "parted"
    assert mouth_group(0.05, 0.4) == "smiling, lips apart"
    assert mouth_group(0.2, 0.4) == "smiling, lips apart"
    assert mouth_group(0.2, 0.1) == "open"


def test_rotation_std_and_speed_of_a_sinusoid():
    t = np.arange(int(10 * FPS)) / FPS  # five whole periods of 0.5 Hz
    wave = np.sin(2 * np.pi * 0.5 * t)
    angles = np.stack([3 * wave, 2 * wave, np.zeros_like(t)], -1)
    assert rotation_std(angles) == pytest.approx([3 / math.sqrt(2), 2 / math.sqrt(2), 0], abs=1e-3)
    # mean |d angle/dt| of A sin(2 pi f t) is 4 A f: 6 and 4 deg/s, averaged with a still roll
    assert raw_speed(angles, FPS) == pytest.approx((6 + 4 + 0) / 3, rel=0.01)
    angles[100] = np.nan  # a frame without a face: its two differences are left out
    assert raw_speed(angles, FPS) == pytest.approx((6 + 4 + 0) / 3, rel=0.02)
    assert rotation_std(angles)[0] == pytest.approx(3 / math.sqrt(2), rel=0.01)
    sparse = np.full_like(angles, np.nan)
    sparse[::3] = angles[::3]  # a face the mesh mostly misses: scattered frames are no head motion
    stats = head_stats(sparse, FPS, np.zeros(len(t)), None)
    assert stats["found"] == pytest.approx(1 / 3, abs=0.01) and math.isnan(stats["rot_std_mean"])


def _speech_level(rng: np.random.Generator, n: int) -> np.ndarray:
    """dB per frame: phrases and pauses of 0.4-2 s, speech around -20 dB, pauses at -60."""
    level, speaking = [], True
    while len(level) < n:
        length = int(rng.integers(10, 50))
        level += list((-20 + 3 * rng.normal(size=length)) if speaking else np.full(length, -60.0))
        speaking = not speaking
    return np.array(level[:n])


def test_speech_relation_prefers_the_voice_the_head_moves_with():
    rng = np.random.default_rng(0)
    own, other = _speech_level(rng, 600), _speech_level(rng, 500)
    speed = 5 + (np.r_[own[4:], np.full(4, -60.0)] + 60) / 2  # deg/s, 4 frames before the sound
    yaw = np.cumsum(speed) / FPS
    angles = np.stack([yaw, np.zeros_like(yaw), np.zeros_like(yaw)], -1)
    relation = speech_relation(angles, own, other, FPS)
    assert relation["lead"] > 0.8 and relation["phrase"] > 0.8
    assert abs(relation["lead_mismatched"]) < 0.3 and relation["phrase"] > relation["phrase_mismatched"] + 0.5
    assert math.isnan(speech_relation(angles, own, None, FPS)["lead_mismatched"])
    still = speech_relation(np.zeros_like(angles), own, other, FPS)
    assert math.isnan(still["lead"])  # a head that never moves relates to nothing


def test_background_difference_outside_the_grown_face_box():
    photo = np.full((100, 100, 3), 100, np.uint8)
    face = np.array([[40, 40, 0], [60, 60, 0]], np.float32)  # a 20 px face: box x 24-76, y 24-84
    mask = background_mask(face, photo.shape)
    assert mask.sum() == 100 * 100 - 52 * 60 and not mask[24:84, 24:76].any()
    frame = photo.copy()
    frame[30:80, 30:70] = 0  # the face, hair and neck may move
    assert background_difference([photo, frame], photo, face) == 0.0
    frame[:10, :10] += 12  # a 10 x 10 patch of background shifted by 12 grey levels
    assert background_difference([frame], photo, face) == pytest.approx(12 * 100 / mask.sum())
    assert background_difference([frame, photo], photo, face) == pytest.approx(6 * 100 / mask.sum())
    assert math.isnan(background_difference([], photo, face))
    with pytest.raises(ValueError):
        background_difference([photo[:50]], photo, face)


def _head(rot: float, speed: float, lead: tuple[float, float], phrase: tuple[float, float]) -> dict:
    """One head's measures as head.head_stats gives them."""
    return {
        "rot_std": [rot, rot, rot],
        "rot_std_mean": rot,
        "speed": speed,
        "found": 1.0,
        "relation": {"lead": lead[0], "lead_mismatched": lead[1], "phrase": phrase[0], "phrase_mismatched": phrase[1]},
    }


def test_head_means_count_each_clip_once_and_find_the_still_head():
    rows = _end_to_end()["clips"]
    means = head_means(rows)
    assert means["clips"] == 2 and means["real"]["rot_std_mean"] == pytest.approx(3.0)
    assert means["render"]["speed"] == pytest.approx(10.0) and means["render"]["rot_std"] == pytest.approx([2.0] * 3)
    assert means["render"]["relation"]["phrase_mismatched"] == pytest.approx(0.1)  # the undefined one left out
    assert means["background"] == pytest.approx(2.0) and means["background_max"] == pytest.approx(2.5)
    assert means["background_clips"] == 2
    assert means["still"] == [
        {"clip": "a", "rot_std": [0.2, 0.4, 0.3], "height": 720},
        {"clip": "b", "rot_std": [1.1, 0.8, 0.5], "height": 224},
    ]
    empty = head_means([])
    assert empty["clips"] == 0 and empty["still"] == [] and math.isnan(empty["background"])


def _stages(r: float, r_speech: float, amplitude: float, recall: float, closures: int, motion: float) -> dict:
    au = {"r": r, "r_speech": r_speech}
    gap = {"amplitude": amplitude, "closure_recall": recall, "closures": closures}
    return {
        "audio2au": au,
        "aupost": au,
        "motion": {"r": motion, "r_speech": motion, **gap},
        "render": {"r": r, "r_speech": r_speech, **gap},
    }


def _clip(name: str, mouth: str, loudness: float, clean: dict, noise: dict, head: dict) -> dict:
    """A row as lips.measure_clip makes it."""
    return {
        "head": head,
        "clip": name,
        "speaker": f"spk_{name}",
        "frames": 100,
        "seconds": 4.0,
        "photo_lip_gap": 0.01,
        "mouth": mouth,
        "real_std": 0.05,
        "loudness": {"r": loudness, "r_speech": loudness},
        "conditions": {CLEAN: clean, NOISE: noise},
    }


def _end_to_end() -> dict:
    """Two clips, as lips_end_to_end returns them (NaN where a measure is undefined)."""
    nan = float("nan")
    heads = [
        {
            "real": _head(2.0, 12.0, (0.1, 0.0), (0.2, -0.1)),
            "render": _head(1.0, 8.0, (0.3, 0.1), (0.4, 0.1)),
            "background": 1.5,
            "still_rot_std": [0.2, 0.4, 0.3],
            "height": 720,
        },
        {
            "real": _head(4.0, 16.0, (0.0, 0.1), (0.0, 0.1)),
            "render": _head(3.0, 12.0, (0.1, 0.2), (0.2, nan)),
            "background": 2.5,
            "still_rot_std": [1.1, 0.8, 0.5],  # a small frame: the mesh's jitter
            "height": 224,
        },
    ]
    rows = [
        _clip("a", "closed", 0.2, _stages(0.7, 0.8, 1.0, 1.0, 4, 0.6), _stages(0.68, 0.7, 0.9, 0.5, 4, 0.6), heads[0]),
        _clip("b", "open", 0.1, _stages(0.5, 0.6, 2.0, nan, 0, nan), _stages(0.3, 0.2, nan, nan, 0, nan), heads[1]),
    ]
    groups = {g: mean_rows([r for r in rows if r["mouth"] == g]) for g in ("closed", "open")}
    return {
        "clips": rows,
        "means": mean_rows(rows),
        "head": head_means(rows),
        "groups": groups,
        "conditions": [CLEAN, NOISE],
    }


def test_mean_rows_count_each_clip_once_and_skip_undefined_measures():
    means = _end_to_end()["means"]
    assert means["clips"] == 2 and means["loudness"]["r"] == pytest.approx(0.15)
    clean = means[CLEAN]
    assert clean["render"]["r"] == pytest.approx(0.6) and clean["render"]["r_speech"] == pytest.approx(0.7)
    assert clean["render"]["closure_recall"] == 1.0  # the clip without closures is left out
    assert clean["render"]["amplitude_in_range"] == 0.5  # 1.0 is in 0.7-1.4x, 2.0 is not
    assert clean["motion"]["r"] == pytest.approx(0.6)
    assert means[NOISE]["render"]["amplitude_in_range"] == 0.5  # an undefined amplitude is out of range
    assert set(clean) == {"audio2au", "aupost", "motion", "render"}


def test_report_shows_every_clip_the_means_groups_and_goals():
    results = jsonable(
        {
            "settings": {"data": "/data", "seconds": 1.0},
            "audio2au": {
                "checkpoint": "a2a.pt",
                "languages_from": [],
                "speakers": ["spk_a", "spk_b"],
                "not_scored": [],
                "seen_in_training": [],
                "clips": 2,
                "frames": 200,
                "lip_gap": lip_gap_summary([], {}, []),
                "mouth": {p: {"r": 0.3, "r_clip": 0.2} for p in ("model", "loudness")},
                "end_to_end": _end_to_end(),
            },
        }
    )
    report = markdown(results, [])
    section = report[report.index("## Lip sync end to end (rendered vs real lips)") :]
    assert section.index(f"### {CLEAN}") < section.index(f"### {NOISE}") < section.index("### Goals")
    assert "| `a` | `spk_a` | closed | 4.00 | 0.20 | 0.70 | 0.70 | 0.60 | 0.70 | 0.80 | 1.00 | 1.00 (4) |" in section
    assert "| `b` | `spk_b` | open | 4.00 | 0.10 | 0.50 | 0.50 | - | 0.50 | 0.60 | 2.00 | - (0) |" in section
    assert "| **mean** (2) |  |  |  | 0.15 | 0.60 | 0.60 | 0.60 | 0.60 | 0.70 | 1.50 | 1.00 (4) |" in section
    assert "| `b` | `spk_b` | open | 4.00 | 0.10 | 0.30 | 0.30 | - | 0.30 | 0.20 | - | - (0) |" in section
    assert "| closed | 1 | 0.20 | 0.70 | 0.70 | 0.60 | 0.70 | 0.80 | 1.00 | 1.00 (4) | 1.00 |" in section
    assert "| open | 1 | 0.10 | 0.50 | 0.50 | - | 0.50 | 0.60 | 2.00 | - (0) | 0.00 |" in section
    goals = section[section.index("### Goals") :].split("\n\n")[1].splitlines()
    assert goals == [
        "- mean render r >= 0.55: 0.60, met",
        "- mean render r >= loudness r (0.15) + 0.1: 0.60, met",
        "- mean render r within speech >= 0.6: 0.70, met",
        "- share of clips with render amplitude within 0.7-1.4x >= 0.85: 0.50, **not met**",
        "- mean closure recall >= 0.7: 1.00, met",
        f"- {NOISE} costs <= 0.05 render r vs clean: 0.11, **not met**",
    ]
    head = section[section.index("### Head motion (issue 26)") :]
    assert "| `a` | 2.00 | 1.00 | 12.0 | 8.0 | 0.10 / 0.00 | 0.30 / 0.10 | 0.20 / -0.10 | 0.40 / 0.10 | 1.50 |" in head
    assert "| `b` | 4.00 | 3.00 | 16.0 | 12.0 | 0.00 / 0.10 | 0.10 / 0.20 | 0.00 / 0.10 | 0.20 / - | 2.50 |" in head
    assert (
        "| **mean** (2) | 3.00 | 2.00 | 14.0 | 10.0 | 0.05 / 0.05 | 0.20 / 0.15 | 0.10 / 0.00 | 0.30 / 0.10 | 2.00 |"
        in head
    )
    assert "`a` 0.40 (720 px), `b` 1.10 (224 px)." in head
    unread = json.loads(json.dumps(results))  # a still render the mesh could not read: NaN -> null in eval.json
    unread["audio2au"]["end_to_end"]["head"]["still"][1]["rot_std"] = [None] * 3
    assert "`a` 0.40 (720 px), `b` - (224 px)." in markdown(unread, [])
    assert head.split("Goals:\n\n")[1].split("\n\n")[0].splitlines() == [
        "- mean render rotation std within 1.5-8.0 degrees (real 3.00): 2.00, met",
        "- mean render speed within 5.0-30.0 deg/s (real 14.0): 10.00, met",
        "- still head (`--head-motion 0`): every axis's rotation std < 1 degree, on the 1 clips at least "
        "360 px tall (largest): 0.40, met",
        "- mean background <= 3 levels (2 clips with background outside the grown box, worst 2.50): 2.00, met",
        "- render head speed follows its own voice better than another clip's, head 4 frames ahead "
        "(r own vs mismatched; real 0.05 vs 0.05): 0.20 vs 0.15, met",
        "- render head speed follows its own voice better than another clip's, on 1 s averages "
        "(r own vs mismatched; real 0.10 vs 0.00): 0.30 vs 0.10, met",
    ]
    nothing = {"clips": [], "means": {"clips": 0, "loudness": {}}, "groups": {}, "conditions": [CLEAN]}
    results["audio2au"]["end_to_end"] = nothing  # no clip had a face the mesh could read
    assert "No held-out clip had a face" in markdown(results, [])


def test_render_lips_renders_with_the_evaluated_audio2au(tmp_path, monkeypatch):
    given = tmp_path / "best.pt"  # a name that, as a checkpoint, would mean the shipped audio2au
    given.write_bytes(b"weights")
    seen = {}

    def fake(root, speakers, options, out_dir, conditions, leave_out, on_clip):
        seen.update(speakers=speakers, out_dir=out_dir, conditions=conditions, leave_out=leave_out)
        seen.update(checkpoint=options.model.checkpoint, device=options.model.device)
        seen.update(weights=options.model.checkpoint and options.model.checkpoint.read_bytes())
        return {}

    monkeypatch.setattr(run, "lips_end_to_end", fake)
    options = EvalOptions(data=tmp_path, output=tmp_path / "out", speakers=("x",), audio2au=given, device="cpu")
    assert render_lips(options, print) == {}
    assert seen["checkpoint"].name == AUDIO2AU_FILE and seen["weights"] == b"weights"
    assert seen["out_dir"] == tmp_path / "out" / "lips" and seen["speakers"] == ("x",)
    assert seen["conditions"] == (CLEAN, STILL_HEAD, "telephone+mp3", NOISE) and seen["leave_out"] == options.not_speech
    assert seen["device"] == "cpu" and not seen["checkpoint"].exists()  # a temporary copy
    render_lips(EvalOptions(data=tmp_path, output=tmp_path / "out"), print)
    assert seen["checkpoint"] is None  # the shipped weights, as `render` has them


def test_eval_without_clips_to_render_fails_first_and_names_no_lips(tmp_path, monkeypatch, capsys):
    (tmp_path / "shared" / "video").mkdir(parents=True)
    monkeypatch.setenv("TALKINGHEAD_DATA", str(tmp_path / "shared"))
    rc = main(["eval", "--sync-only", "--data", str(tmp_path / "nodata"), "-o", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "no web-style clips" in err and "--no-lips" in err and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_one_held_out_clip_end_to_end(shared_data, tmp_path):
    speaker = "clips__pcavs_voxceleb__00010"
    seen = []
    conditions = (CLEAN, STILL_HEAD)
    out = lips_end_to_end(shared_data, [speaker], RenderOptions(), tmp_path, conditions, on_clip=seen.append)
    assert seen == [speaker] and out["conditions"] == list(conditions)
    (row,) = out["clips"]
    assert row["clip"] == speaker and 3 < row["seconds"] < 6 and row["frames"] > 75
    assert row["real_std"] > 0.005 and row["mouth"] in out["groups"]  # the real lips were found and move
    clean = row["conditions"][CLEAN]
    assert list(clean) == ["audio2au", "aupost", "motion", "render"]
    assert math.isfinite(clean["render"]["r"]) and -1 <= clean["render"]["r"] <= 1
    assert clean["render"]["amplitude"] > 0 and clean["motion"]["amplitude"] > 0
    assert out["means"]["clips"] == 1 and out["means"][CLEAN]["render"]["r"] == clean["render"]["r"]
    head = row["head"]
    assert head["real"]["found"] > 0.9 and 0.1 < head["real"]["rot_std_mean"] < 20  # the real head was read
    assert head["render"]["found"] > 0.9 and math.isfinite(head["render"]["speed"])
    assert math.isnan(head["background"])  # a close crop: the grown face box covers the whole frame
    assert len(head["still_rot_std"]) == 3 and head["height"] == 224
    assert math.isfinite(row["conditions"][STILL_HEAD]["render"]["r"])
    assert math.isnan(head["real"]["relation"]["lead_mismatched"])  # one clip: no other voice
    assert out["head"]["still"][0]["clip"] == speaker
    assert (tmp_path / f"{speaker}.mp4").stat().st_size > 10_000
