"""The AU -> landmark motion model: `talkinghead train motion` recovers a known linear map
from generated clips seen under random head poses, reports held-out error below zero
motion, refuses a model fit for another tracker, and the shipped model moves the jaw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from actionunits import AU_NAMES, AUSeries
from actionunits.checkpoint import CheckpointError
from actionunits.prepared import ClipRecord, DatasetInfo, clip_dir, landmarks_path, write_clips, write_info
from talkinghead.cli import main
from talkinghead.face.au_tracker import RIGID, Calibration
from talkinghead.face.motion import MotionModel

DRIVEN = ("jawOpen", "mouthSmileLeft", "eyeBlinkRight", "browInnerUp")


def rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    a, b, c = np.radians(rng.uniform(-degrees, degrees, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def make_clips(root: Path, basis: np.ndarray, speakers: int = 4, clips: int = 2, frames: int = 60) -> None:
    """Clips whose landmarks are a rest face + aus @ basis, seen under random poses, with
    the rigid points fixed (so pose removal is exact) and a little tracking noise."""
    rng = np.random.default_rng(0)
    reference = Calibration.load().reference
    write_info(root, DatasetInfo(100, AU_NAMES))
    records = []
    for s in range(speakers):
        rest = rng.normal(0, 0.6, (478, 3))
        rest[list(RIGID)] = reference
        rest[[i for i in range(478) if i not in RIGID]] += rng.normal(0, 0.05, (478 - len(RIGID), 3))
        for c in range(clips):
            name = f"spk{s}_clip{c}"
            aus = np.zeros((frames, len(AU_NAMES)), np.float32)
            for au in DRIVEN:
                aus[:, AU_NAMES.index(au)] = rng.uniform(0, 1, frames)
            pose_free = rest + np.einsum("nk,kpd->npd", aus, basis) + rng.normal(0, 0.002, (frames, 478, 3))
            scale, shift = rng.uniform(60, 120), rng.uniform(100, 300, 3)
            photo = np.stack([scale * p @ rotation(rng, 15).T + shift for p in pose_free]).astype(np.float32)
            clip_dir(root, name).mkdir(parents=True)
            AUSeries(aus, 25.0, AU_NAMES).write_csv(clip_dir(root, name) / "aus.csv")
            np.save(landmarks_path(root, name), photo)
            records.append(ClipRecord(name, f"spk{s}", 25.0, frames, ""))
    write_clips(root, records)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[MotionModel, np.ndarray, Path]:
    rng = np.random.default_rng(1)
    basis = np.zeros((len(AU_NAMES), 478, 3))
    for au in DRIVEN:
        basis[AU_NAMES.index(au)] = rng.normal(0, 0.05, (478, 3))
    basis[:, list(RIGID)] = 0.0  # AUs do not move the rigid points
    root = tmp_path_factory.mktemp("prepared")
    make_clips(root, basis)
    run_dir = root / "run"
    assert main(["train", "motion", f"data.root={root}", f"run_dir={run_dir}", "ridges=[1e-4,1e-2,1]"]) == 0
    return MotionModel.load(run_dir / "motion.pt"), basis, run_dir


def test_fit_recovers_the_linear_map(fitted):
    model, basis, _ = fitted
    for au in DRIVEN:
        k = AU_NAMES.index(au)
        error = np.abs(model.basis[k] - basis[k]).max()
        assert error < 0.01, (au, error)  # offsets are ~0.05, fp16 storage and noise included
    others = [AU_NAMES.index(n) for n in AU_NAMES if n not in DRIVEN]
    assert np.abs(model.basis[others]).max() < 0.01  # AUs that never moved get no motion


def test_report_beats_zero_motion_per_region(fitted):
    _, _, run_dir = fitted
    report = json.loads((run_dir / "report.json").read_text())
    assert report["speakers"] == 4 and report["frames"] == 4 * 2 * 60
    for region, err in report["heldout_rmse"].items():
        assert err < 0.2 * report["zero_motion_rmse"][region], region


def test_model_of_another_tracker_is_refused(fitted, tmp_path):
    model, _, _ = fitted
    MotionModel(model.basis, model.au_names, "another-tracker").save(tmp_path / "motion.pt")
    with pytest.raises(CheckpointError, match="refit"):
        MotionModel.load(tmp_path / "motion.pt")
    rc = main(["edit", "--photo", "x.jpg", "--checkpoint", str(tmp_path), "-o", str(tmp_path / "o.png"), "--quiet"])
    assert rc == 2 and not (tmp_path / "o.png").exists()


def test_train_motion_needs_landmarks(synthetic_dataset, tmp_path, capsys):
    """The generated GATH dataset has no landmarks.npy: one clear line, exit 2."""
    rc = main(["train", "motion", f"data.root={synthetic_dataset}", f"run_dir={tmp_path}"])
    assert rc == 2 and "no clips with landmarks" in capsys.readouterr().err


def test_shipped_model_drops_the_jaw_and_closes_the_lids():
    from talkinghead.renderers.warp import load_motion

    model = load_motion(None)
    jaw = model.basis[AU_NAMES.index("jawOpen")]
    assert jaw[152, 1] > 0.1 and jaw[14, 1] - jaw[13, 1] > 0.05  # chin down, lips apart (y points down)
    blink = model.basis[AU_NAMES.index("eyeBlinkLeft")]
    assert blink[386, 1] - blink[374, 1] > 0.02  # the subject's left upper lid comes down to the lower


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip, speaker", [("grid_lipnet/lbbc2a.mp4", "grid_f_lbbc2a"), ("grid_lipnet/lbax4n.mp4", "grid_m_lbax4n")]
)
def test_tracked_mouth_aus_determine_the_real_lips(shared_data, clip, speaker):
    """On GRID speakers the shipped motion model never saw, the lip gap the
    tracked AUs ask for (through the model) follows the inner-lip gap measured in the video."""
    from talkinghead.face.au_tracker import AUTracker, track_video
    from talkinghead.face.motion_fit import clip_lips
    from talkinghead.renderers.warp import load_motion

    model = load_motion(None)
    assert speaker in model.info["exclude_speakers"]  # truly held out
    rows = []
    series = track_video(
        shared_data / "video" / "more" / clip, tracker=AUTracker(), on_frame=lambda i, rgb, lm: rows.append(lm)
    )
    assert all(lm is not None for lm in rows)
    lips = clip_lips(model, series.values, np.stack(rows), series.valid)
    assert np.corrcoef(*lips["gap"])[0, 1] >= 0.85
    assert np.corrcoef(*lips["width"])[0, 1] >= 0.7
