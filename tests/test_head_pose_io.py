"""Head pose beside the AUs: its CSV columns (ours and Live Link Face's), the angle
geometry, the tracker's pose of a turning head and `edit`'s head-turn limits. Generated
data only: the landmarks are the bundled demo photo's, turned in 3D."""

from __future__ import annotations

import numpy as np
import pytest

from actionunits import AU_NAMES, AUSeries
from actionunits.series import POSE_COLUMNS, POSE_LIMITS
from talkinghead.errors import UserError
from talkinghead.face.head_pose import angles, landmark_angles, rotation
from talkinghead.io.au_csv import read_au_csv

FPS = 25.0


@pytest.fixture(scope="module")
def landmarks() -> np.ndarray:
    from talkinghead.commands.demo import demo_photo
    from talkinghead.portrait import Portrait

    return Portrait.open(demo_photo()).landmarks.astype(np.float64)


def turned(landmarks: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """The face turned by each pose (N, 3) about its centre: (N, 478, 3)."""
    pivot = landmarks.mean(axis=0)
    return np.einsum("nij,kj->nki", rotation(pose), landmarks - pivot) + pivot


def random_poses(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3)) * POSE_LIMITS


def test_csv_head_columns_round_trip_in_radians(tmp_path):
    pose = random_poses(30) + [3.0, -2.0, 1.0]
    values = np.random.default_rng(1).uniform(0, 1, (30, len(AU_NAMES)))
    AUSeries(values, FPS, AU_NAMES, pose=pose).write_csv(tmp_path / "a.csv")
    header, first = (tmp_path / "a.csv").read_text().splitlines()[:2]
    assert header.split(",")[-3:] == list(POSE_COLUMNS)
    relative = pose - pose.mean(axis=0)
    assert float(first.split(",")[-3]) == pytest.approx(np.radians(relative[0, 0]), abs=1e-6)
    back = AUSeries.read_csv(tmp_path / "a.csv")
    np.testing.assert_allclose(back.pose, relative, atol=1e-4)
    np.testing.assert_allclose(back.values, values, atol=1e-5)


def test_csv_without_pose_has_no_head_columns(tmp_path):
    AUSeries(np.zeros((3, len(AU_NAMES))), FPS).write_csv(tmp_path / "a.csv")
    assert "Head" not in (tmp_path / "a.csv").read_text()
    assert AUSeries.read_csv(tmp_path / "a.csv").pose is None


def live_link_face_csv(path, head: np.ndarray | None, spelling: tuple[str, ...] = POSE_COLUMNS) -> None:
    """A Live Link Face-style CSV: Timecode, blendshapes, and head rotation in radians."""
    header = ["Timecode", "BlendShapeCount", "JawOpen", "EyeBlinkLeft"]
    header += list(spelling) if head is not None else []
    rows = [",".join(header)]
    for i in range(len(head) if head is not None else 40):
        cells = [f"12:00:{i // 30:02d}:{i % 30:02d}.000", "61", f"{i / 40:.3f}", "0.1"]
        cells += [f"{a:.6f}" for a in head[i]] if head is not None else []
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("spelling", [POSE_COLUMNS, ("headYaw", "head_pitch", "HEADROLL")])
def test_live_link_face_head_is_degrees_relative_to_mean(tmp_path, spelling):
    degrees = random_poses(40) + [5.0, 0.0, -4.0]
    live_link_face_csv(tmp_path / "llf.csv", np.radians(degrees), spelling)
    s = read_au_csv(tmp_path / "llf.csv")
    assert s.fps == pytest.approx(30.0) and s.names == AU_NAMES
    np.testing.assert_allclose(s.pose, degrees - degrees.mean(axis=0), atol=1e-3)


def test_csv_without_head_columns_has_no_pose(tmp_path):
    live_link_face_csv(tmp_path / "llf.csv", None)
    assert read_au_csv(tmp_path / "llf.csv").pose is None


def test_non_numeric_head_value_is_one_line_user_error(tmp_path):
    (tmp_path / "bad.csv").write_text("time,jawOpen,HeadYaw\n0,0.1,0.02\n0.04,0.2,abc\n")
    with pytest.raises(UserError) as e:
        read_au_csv(tmp_path / "bad.csv")
    assert "\n" not in str(e.value)


def test_rotation_and_angles_round_trip():
    poses = random_poses(200)
    np.testing.assert_allclose(angles(rotation(poses)), poses, atol=1e-9)


def test_landmark_angles_recover_a_head_turn(landmarks):
    poses = random_poses(12, seed=2)
    measured, valid = landmark_angles(turned(landmarks, np.vstack([np.zeros(3), poses])))
    assert valid.all()
    # The turn relative to the photo's own pose, not an angle difference (Euler angles do not add).
    relative = angles(rotation(measured[1:]) @ rotation(measured[0]).T)
    np.testing.assert_allclose(relative, poses, atol=0.5)


def test_landmark_angles_marks_missing_faces(landmarks):
    measured, valid = landmark_angles(np.stack([landmarks, np.full_like(landmarks, np.nan)]))
    assert valid.tolist() == [True, False] and np.isnan(measured[1]).all()


def test_tracker_pose_follows_a_turning_head(landmarks):
    from talkinghead.face import AUTracker

    t = np.arange(50) / FPS
    poses = np.stack([10 * np.sin(2 * np.pi * t / 2), 6 * np.sin(2 * np.pi * t / 1.5), 4 * np.cos(np.pi * t)], 1)
    frames = turned(landmarks, poses)
    frames[20] = np.nan  # a frame without a face: interpolated
    series = AUTracker().series(frames, FPS)
    assert series.pose.shape == (50, 3) and np.isfinite(series.pose).all()
    np.testing.assert_allclose(series.pose.mean(axis=0), 0, atol=0.2)
    np.testing.assert_allclose(series.pose, poses - poses.mean(axis=0), atol=1.0)


def test_tracker_without_any_face_has_no_pose(landmarks):
    from talkinghead.face import AUTracker

    assert AUTracker().series(np.full((3, *landmarks.shape), np.nan), FPS).pose is None


def test_edit_pose_is_none_at_zero():
    from talkinghead.commands.edit import EditOptions

    assert EditOptions().pose() is None
    np.testing.assert_array_equal(EditOptions(yaw=5, roll=-2).pose(), [[5, 0, -2]])


@pytest.mark.parametrize("flag", ["--yaw=40", "--pitch=-12.5", "--roll=nan"])
def test_edit_refuses_a_head_turn_out_of_range_before_loading(flag, tmp_path, monkeypatch, capsys):
    from talkinghead.cli import main
    from talkinghead.commands import edit

    monkeypatch.setattr(edit, "load", lambda *a, **k: pytest.fail("loaded a renderer"))
    rc = main(["edit", "--photo", str(tmp_path / "no.png"), "-o", str(tmp_path / "out.png"), flag])
    _, err = capsys.readouterr()
    assert rc == 2 and len(err.strip().splitlines()) == 1 and flag.split("=")[0] in err
