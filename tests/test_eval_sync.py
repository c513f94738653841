"""`talkinghead eval`'s lip-sync section: speakers' languages from the data's manifests, the
per-speaker and per-language summary of audio2au.lipsync, its report table, and
`eval --sync-only` on a generated dataset whose landmarks open the lips as its labels say."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from face_mesh import face_mesh
from tiny_weights import make_tiny_weights

from actionunits.prepared import clip_dir, read_clips
from audio2au.data import load_clips
from audio2au.frame_measures import au_lip_gap
from audio2au.lipsync import PREDICTORS, SpeakerSync
from talkinghead.cli import main
from talkinghead.evaluation.languages import language_groups, read_languages
from talkinghead.evaluation.report import jsonable, markdown
from talkinghead.evaluation.sync import audio2au_sync, lip_gap_summary


def _manifest(path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def test_languages_come_from_the_manifests_by_speaker(tmp_path):
    _manifest(
        tmp_path / "video" / "more" / "manifest.csv",
        "path,speaker_id_if_known,language,notes",
        [
            "a1.mp4,anna,en,",
            "a2.mp4,anna,EN ,",
            "b.mp4,bo,unknown,",
            "c1.mp4,cleo,fr,",
            "c2.mp4,cleo,,",
            "d.mp4,dora,not verified,",
            "e.mp4,,de,no speaker id",
        ],
    )
    _manifest(tmp_path / "video" / "other" / "manifest.csv", "path,speaker", ["x.mp4,xavier"])  # no language
    languages, manifests = read_languages(tmp_path)
    assert manifests == [tmp_path / "video" / "more" / "manifest.csv"]
    assert languages == {"anna": "en", "bo": "unknown", "cleo": "fr+unknown", "dora": "unknown", "grid_s1": "en"}
    groups = language_groups(["zed", "bo", "cleo", "anna", "grid_s1", "dora"], languages)
    assert groups == {"en": ["anna", "grid_s1"], "fr+unknown": ["cleo"], "unknown": ["zed", "bo", "dora"]}
    assert read_languages(tmp_path / "nowhere") == ({"grid_s1": "en"}, [])


def _row(speaker: str, r: float, lips_silence: float = 0.01) -> SpeakerSync:
    scores = {k: r for k in PREDICTORS}
    return SpeakerSync(speaker, 100, 80, scores, {k: r / 2 for k in PREDICTORS}, lips_silence, 0.2, 0.02, 0.3)


def test_lip_gap_summary_groups_speakers_by_language():
    rows = [_row("anna", 0.6), _row("bo", 0.2, lips_silence=float("nan")), _row("cleo", 0.4)]
    out = lip_gap_summary(rows, {"anna": "en", "cleo": "en"}, ["anna", "bo", "cleo", "mute"])
    assert [(s["speaker"], s["language"]) for s in out["speakers"]] == [
        ("anna", "en"),
        ("bo", "unknown"),
        ("cleo", "en"),
    ]
    assert list(out["means"]) == ["en", "unknown", "all"]
    en, everyone = out["means"]["en"], out["means"]["all"]
    assert en["speakers"] == 2 and en["frames"] == 200 and en["speech_frames"] == 160
    assert en["r_all"]["model lip gap"] == pytest.approx(0.5) and en["r_speech"]["loudness"] == pytest.approx(0.25)
    assert everyone["speakers"] == 3 and everyone["r_all"]["gated loudness"] == pytest.approx(0.4)
    assert everyone["lips_silence"] == pytest.approx(0.01)  # bo's undefined silence level is left out
    assert out["without_landmarks"] == ["mute"]
    assert lip_gap_summary([], {}, ["mute"]) == {"speakers": [], "means": {}, "without_landmarks": ["mute"]}


def _sync_results(gap: dict) -> dict:
    label = {"r": 0.3, "r_clip": 0.25}
    return jsonable(
        {
            "settings": {"data": "/data", "seconds": 1.0},
            "audio2au": {
                "checkpoint": "a2a.pt",
                "languages_from": ["/m.csv"],
                "speakers": ["anna", "bo"],
                "not_scored": ["music_d1"],
                "seen_in_training": [],
                "clips": 2,
                "frames": 200,
                "lip_gap": gap,
                "mouth": {"model": label, "loudness": label},
            },
        }
    )


def test_sync_table_shows_each_speaker_and_the_language_means():
    gap = lip_gap_summary([_row("anna", 0.6), _row("bo", float("nan"))], {"anna": "en"}, ["anna", "bo"])
    report = markdown(_sync_results(gap), [])
    lines = report.splitlines()
    anna = next(line for line in lines if line.startswith("| `anna` |"))
    assert (
        anna == "| `anna` | en | 100 (80) | 0.60 / 0.30 | 0.60 / 0.30 | 0.60 / 0.30 | 0.60 / 0.30 | 0.60 / 0.30 "
        "| 0.010 / 0.200 |"
    )
    assert "| `bo` | unknown | 100 (80) | n/a / n/a |" in report
    assert "| **mean** (1) | **en** |" in report and "| **mean** (2) | **all** | 200 (160) | 0.60 / 0.30 |" in report
    assert "`music_d1`" in report and "`/m.csv`" in report and "grid.png" not in report
    assert "| model | 0.300 | 0.250 |" in report
    empty = markdown(_sync_results(lip_gap_summary([], {}, ["anna"])), [])
    assert "No held-out clip has `landmarks.npy`" in empty and "Without landmarks, not in this table: `anna`" in empty


def test_eval_sync_only_scores_against_the_measured_lips(
    synthetic_dataset, tmp_path, monkeypatch, capsys, one_torch_thread
):
    root = tmp_path / "prepared"
    shutil.copytree(synthetic_dataset, root, ignore=shutil.ignore_patterns("frames", "images"))
    clips, names = load_clips(root)
    for c in clips:  # the real lips open exactly as the labels say: the tracker's ceiling is r = 1
        np.save(clip_dir(root, c.name) / "landmarks.npy", face_mesh(0.05 + 0.1 * au_lip_gap(c.aus, names)))
    assert {r.speaker for r in read_clips(root)} == {"spk00", "spk01", "spk02", "spk03"}
    data = tmp_path / "shared"
    _manifest(data / "video" / "manifest.csv", "path,speaker,language", ["a.mp4,spk00,ko"])
    monkeypatch.setenv("TALKINGHEAD_DATA", str(data))
    weights = make_tiny_weights(tmp_path / "weights")
    out = tmp_path / "report"
    rc = main(
        [
            "eval",
            "--sync-only",
            "--no-lips",
            "--audio2au",
            str(weights / "audio2au.pt"),
            "--data",
            str(root),
            "--speakers",
            "spk00",
            "spk01",
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    sync = json.loads((out / "eval.json").read_text())["audio2au"]
    gap = sync["lip_gap"]
    assert [(s["speaker"], s["language"]) for s in gap["speakers"]] == [("spk00", "ko"), ("spk01", "unknown")]
    assert list(gap["means"]) == ["ko", "unknown", "all"] and gap["means"]["all"]["speakers"] == 2
    assert all(s["r_all"]["tracker lip gap"] == pytest.approx(1.0, abs=1e-4) for s in gap["speakers"])
    assert all(math.isfinite(s["r_speech"]["model lip gap"]) for s in gap["speakers"])
    assert sync["languages_from"] == [str((data / "video" / "manifest.csv").resolve())]
    assert set(sync["mouth"]) == {"model", "loudness"} and not gap["without_landmarks"]
    report = (out / "report.md").read_text()
    assert "| `spk00` | ko |" in report and "| **mean** (2) | **all** |" in report and "Table 1" not in report
    assert sorted(p.name for p in out.iterdir()) == ["audio2au_sync.png", "eval.json", "report.md"]
    music = audio2au_sync(weights / "audio2au.pt", root, ["spk00", "spk01"], {}, exclude=["spk01_*"])
    assert music["speakers"] == ["spk00"] and music["not_scored"] == ["spk01"] and music["clips"] == 2
