"""The AU tracker on real faces: speech opens the jaw, blinks close the eyes, happy faces smile."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from actionunits import AU_NAMES
from talkinghead.errors import UserError
from talkinghead.face.au_tracker import AU_MEASURES, AUTracker, Calibration, interpolate_missing, track_video
from talkinghead.face.landmarks import LandmarkDetector
from talkinghead.io.image import read_image


@pytest.fixture(scope="module")
def tracker() -> AUTracker:
    return AUTracker()


def test_every_au_name_has_a_calibrated_measure(tracker):
    assert set(AU_MEASURES) == set(AU_NAMES)
    cal = Calibration.load()
    for measure, direction in AU_MEASURES.values():
        strong = cal.strong[f"{measure}{'+' if direction > 0 else '-'}"]
        assert direction * (strong - cal.neutral[measure]) > 0  # the strong end lies on the AU's side


def _speech_mask(align_path, n_frames: int) -> np.ndarray:
    speech = np.zeros(n_frames, bool)
    for line in align_path.read_text().split("\n"):
        if line.strip():
            start, end, word = line.split()
            if word != "sil":
                speech[int(start) // 1000 : int(end) // 1000] = True
    return speech


@pytest.mark.parametrize("clip", ["bbaf2n", "prac6n"])
def test_jaw_opens_during_speech_on_grid(shared_data, tracker, clip):
    grid = shared_data / "video" / "grid" / "s1"
    series = track_video(grid / "video" / f"{clip}.mp4", tracker=tracker)
    assert series.values.shape == (75, len(AU_NAMES)) and series.fps == 25
    assert series.valid.all()
    assert ((series.values >= 0) & (series.values <= 1)).all()
    speech = _speech_mask(grid / "align" / f"{clip}.align", len(series))
    jaw = series.column("jawOpen")
    assert jaw[speech].mean() > jaw[~speech].mean() + 0.08
    assert np.percentile(jaw[speech], 90) > np.percentile(jaw[~speech], 90)
    if clip == "bbaf2n":  # this clip has two blinks, around frames 44 and 52
        blink = np.minimum(series.column("eyeBlinkLeft"), series.column("eyeBlinkRight"))
        assert blink[40:56].max() > 0.5 and np.median(blink) < 0.2


def test_happy_stills_smile_more_than_neutral_ones(shared_data, tracker):
    lfw = shared_data / "faces" / "lfw_expressions"
    by_label: dict[str, list[str]] = {"happiness": [], "neutral": []}
    with open(lfw / "legend.csv", newline="") as f:
        for row in csv.DictReader(f):
            label = row["emotion"].strip().lower()
            if label in by_label and (lfw / "images" / row["image"]).is_file():
                by_label[label].append(row["image"])
    smiles = {}
    with LandmarkDetector() as det:
        for label, names in by_label.items():
            values = []
            for name in sorted(names)[:12]:
                aus = tracker.track_image(read_image(lfw / "images" / name), detector=det)
                if aus is not None:
                    values.append((aus[AU_NAMES.index("mouthSmileLeft")] + aus[AU_NAMES.index("mouthSmileRight")]) / 2)
            smiles[label] = np.array(values)
    assert len(smiles["happiness"]) >= 8 and len(smiles["neutral"]) >= 8
    assert smiles["happiness"].mean() > smiles["neutral"].mean() + 0.15


def test_missing_frames_are_interpolated_and_marked(tracker, shared_data):
    with LandmarkDetector() as det:
        face = det.detect(read_image(shared_data / "portraits" / "grid_s1.png"))[0]
    lms = np.stack([face, np.full_like(face, np.nan), face, face])
    series = tracker.series(lms, fps=25.0, smooth=False)
    assert series.valid.tolist() == [True, False, True, True]
    np.testing.assert_allclose(series.values[1], series.values[0], atol=1e-6)
    assert np.isfinite(series.values).all()
    values = np.array([[0.0], [np.nan], [1.0]])
    np.testing.assert_allclose(interpolate_missing(values, np.array([True, False, True]))[1], [0.5])


def test_video_errors_are_clear(tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    with pytest.raises(UserError, match="cannot read video"):
        track_video(not_video)
    with pytest.raises(UserError, match="not found"):
        track_video(tmp_path / "missing.mp4")


def test_calibration_fit_on_real_faces(shared_data, tmp_path):
    from talkinghead.face.au_tracker import RIGID
    from talkinghead.face.calibrate import fit_calibration
    from talkinghead.io.video_frames import VideoFrames

    with LandmarkDetector(video=True) as det:
        frames = [
            det.detect(rgb)[0] for rgb in VideoFrames(shared_data / "video" / "grid" / "s1" / "video" / "bbaf2n.mp4")
        ]
    frames = np.stack(frames)
    cal = fit_calibration(frames[:20], np.ones(20, bool), frames[20:])
    idx = {p: i for i, p in enumerate(RIGID)}
    right = (cal.reference[idx[33]] + cal.reference[idx[133]]) / 2
    left = (cal.reference[idx[263]] + cal.reference[idx[362]]) / 2
    assert abs(np.linalg.norm(left - right) - 1.0) < 1e-6 and abs(left[1] - right[1]) < 1e-6
    assert cal.strong["jaw_drop+"] > cal.neutral["jaw_drop"]
    cal.save(tmp_path / "cal.json")
    again = Calibration.load(tmp_path / "cal.json")
    assert np.allclose(again.reference, cal.reference, atol=1e-4) and set(again.neutral) == set(cal.neutral)
