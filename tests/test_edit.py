"""`talkinghead edit`: set AUs of a still. Plumbing with tiny untrained weights; the
jaw test measures the result with the project's AU tracker and needs trained weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_weights import make_tiny_weights, shipped_trained_weights

from talkinghead.cli import main

PHOTO = "portraits/video_retalking_1.png"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.mktemp("weights"))


def edit(photo: Path, out: Path, checkpoint: Path, *options: str) -> int:
    """Runs `talkinghead edit --photo PHOTO -o OUT --checkpoint CHECKPOINT OPTIONS...`."""
    return main(["edit", "--photo", str(photo), "-o", str(out), "--checkpoint", str(checkpoint), *options])


def test_edit_writes_image_of_photo_size(shared_data, tiny, tmp_path, capsys):
    out = tmp_path / "edited.png"
    rc = edit(shared_data / PHOTO, out, tiny, "--au", "jawOpen=0.6,mouthSmileLeft=0.8")
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert "jawOpen=0.60" in stdout and "mouthSmileLeft=0.80" in stdout
    photo = cv2.imread(str(shared_data / PHOTO))
    edited = cv2.imread(str(out))
    assert edited.shape == photo.shape
    diff = np.abs(edited.astype(int) - photo.astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(diff)
    h, w = photo.shape[:2]
    # Only the face region changed: the photo's corners are untouched.
    assert diff.any() and not diff[: h // 10, : w // 10].any() and not diff[-h // 10 :, -w // 10 :].any()


def test_edit_neutral_crop_only(shared_data, tiny, tmp_path, capsys):
    out = tmp_path / "neutral.jpg"
    rc = edit(shared_data / PHOTO, out, tiny, *"--neutral --crop-only --size 64 --generator gath --enhance".split())
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert "all AUs 0" in stdout
    assert cv2.imread(str(out)).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "args",
    [
        ["--au", "jawOpen=1.5"],
        ["--au", "noSuchAU=0.5"],
        ["--emotion", "bored"],
        ["--enhance", "blur"],
        ["-o", "{tmp}/missing/out.png"],
        ["-o", "{tmp}/out.gif"],
        ["--enhance"],
    ],
)
def test_edit_errors(args, shared_data, tiny, tmp_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = ["-o", str(tmp_path / "out.png")] if "-o" not in args else []
    rc = main(["edit", "--photo", str(shared_data / PHOTO), "--checkpoint", str(tiny), "--quiet", *out, *args])
    _, err = capsys.readouterr()
    assert rc == 2 and len(err.strip().splitlines()) == 1 and err.startswith("talkinghead: error: ")
    assert list(tmp_path.rglob("*")) == []


def test_jaw_open_edit_opens_the_mouth(shared_data, tmp_path, capsys):
    weights = shipped_trained_weights("a visible jaw edit needs a trained model")
    from talkinghead.face import AUTracker
    from talkinghead.io.image import read_image

    tracker = AUTracker()
    jaw = {}
    for value in (0.0, 1.0):
        out = tmp_path / f"jaw{value}.png"
        rc = edit(shared_data / PHOTO, out, weights, "--neutral", "--au", f"jawOpen={value}", "--quiet")
        assert rc == 0, capsys.readouterr().err
        aus = tracker.track_image(read_image(out))
        assert aus is not None, "the tracker lost the edited face"
        jaw[value] = float(aus[tracker.names.index("jawOpen")])
    assert jaw[1.0] > jaw[0.0] + 0.15, jaw
