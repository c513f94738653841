"""Face front-end on real portraits and generated images: reading, alignment, paste-back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from talkinghead.errors import UserError
from talkinghead.face.align import TEMPLATE, Paster, anchor_points, detect_and_align, paste_back
from talkinghead.face.landmarks import LandmarkDetector
from talkinghead.io.image import read_image


@pytest.fixture(scope="module")
def detector():
    with LandmarkDetector() as det:
        yield det


@pytest.fixture(scope="module")
def portrait(shared_data) -> np.ndarray:
    return read_image(shared_data / "portraits" / "video_retalking_1.png")


def test_read_image_formats(tmp_path, portrait):
    small = cv2.resize(portrait, (64, 48))
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    assert read_image(tmp_path / "gray.png").shape == (48, 64, 3)

    rgba = np.dstack([small, np.zeros((48, 64), np.uint8)])  # fully transparent -> white
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    assert (read_image(tmp_path / "alpha.png") == 255).all()

    deep = (small.astype(np.uint16) * 257)[..., ::-1]
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert np.abs(read_image(tmp_path / "deep.png").astype(int) - small).max() <= 1

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    Image.fromarray(small).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "rotated.jpg")
    assert upright.shape == (64, 48, 3)
    expected = np.rot90(small, k=-1)
    assert np.abs(upright.astype(int) - expected).mean() < 6


@pytest.mark.parametrize(
    "content, message", [(b"", "empty"), (b"\xff\xd8\xff\xe0 not really a jpeg" * 20, "not a valid image")]
)
def test_read_image_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_image(path)
    with pytest.raises(UserError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_no_face_is_a_clear_error(detector):
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    with pytest.raises(UserError, match="no face"):
        detect_and_align(noise, detector=detector)


def test_alignment_puts_eyes_and_mouth_on_the_template(portrait, detector):
    aligned = detect_and_align(portrait, 100, detector=detector)
    assert aligned.crop.shape == (100, 100, 3) and aligned.crop.dtype == np.uint8
    assert aligned.source_size == portrait.shape[:2]
    anchors = anchor_points(aligned.landmarks)
    mapped = np.hstack([anchors, np.ones((3, 1))]) @ aligned.matrix.T
    assert np.abs(mapped - TEMPLATE * 100).max() < 4.0
    # Landmarks found again on the crop land on the template too (the crop is a face).
    again = detector.detect(aligned.crop)
    assert again and np.abs(anchor_points(again[0]) - TEMPLATE * 100).max() < 5.0


def test_face_index_and_largest_face(portrait, detector):
    face = cv2.resize(portrait, (350, 350))
    canvas = np.full((350, 700, 3), 128, np.uint8)
    canvas[:, :350] = face
    canvas[35:315, 385:665] = cv2.resize(face, (280, 280))  # the same face at 80 %
    with LandmarkDetector(max_faces=2) as two:
        big = detect_and_align(canvas, detector=two)
        small = detect_and_align(canvas, face_index=1, detector=two)
    assert big.scale < small.scale  # the largest face comes first
    assert big.landmarks[:, 0].mean() < 350 < small.landmarks[:, 0].mean()
    with pytest.raises(UserError, match="face index 5"):
        detect_and_align(canvas, face_index=5, detector=detector)


def test_paste_back_reproduces_the_photo(portrait, detector):
    # A crop at (at least) the photo's resolution must paste back almost exactly.
    first = detect_and_align(portrait, 100, detector=detector)
    size = int(np.ceil(100 / first.scale))
    aligned = detect_and_align(portrait, size, detector=detector)
    out = paste_back(portrait, aligned, aligned.crop)
    paster = Paster(aligned)
    region = (slice(paster.y0, paster.y1), slice(paster.x0, paster.x1))
    diff = np.abs(out.astype(int) - portrait.astype(int))
    assert diff[region].mean() < 2.0
    outside = np.ones(portrait.shape[:2], bool)
    outside[region] = False
    assert diff[outside].max() == 0  # nothing outside the face region is touched


def test_paste_back_matches_colour_without_a_seam(portrait, detector):
    aligned = detect_and_align(portrait, 100, detector=detector)
    paster = Paster(aligned)
    shifted = np.clip(aligned.crop.astype(int) + 40, 0, 255).astype(np.uint8)  # a generator's colour drift
    matched = paster.paste(portrait, shifted)
    raw = paster.paste(portrait, shifted, colour_match=False)
    region = (slice(paster.y0, paster.y1), slice(paster.x0, paster.x1))
    err_matched = np.abs(matched[region].astype(int) - portrait[region]).mean()
    err_raw = np.abs(raw[region].astype(int) - portrait[region]).mean()
    assert err_matched < 0.5 * err_raw
    # No seam: along a ring just outside the feather, the pasted frame equals the photo.
    untouched = paster._weight == 0
    assert untouched.any()
    assert np.abs(matched[region].astype(int) - portrait[region])[untouched].max() == 0


def test_large_grayscale_photo(shared_data, detector):
    bw = read_image(shared_data / "portraits" / "liveportrait_s2_bw.jpg")
    big = cv2.resize(bw, (bw.shape[1] * 3, bw.shape[0] * 3), interpolation=cv2.INTER_LINEAR)  # ~6000 px wide
    aligned = detect_and_align(big, 100, detector=detector)
    assert aligned.crop.shape == (100, 100, 3)
    frame = Paster(aligned).paste(big, aligned.crop)
    assert frame.shape == big.shape
