"""`talkinghead eval`: the paper's metrics on hand-computed arrays, the identity embedder on
real photos, and the whole command on a generated dataset with tiny untrained weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_weights import make_tiny_weights

from talkinghead.cli import main
from talkinghead.evaluation.controllability import controllability, sweep
from talkinghead.evaluation.heldout import EvalPairs, intra_pairs, same_person
from talkinghead.evaluation.measure import Measured, face_mask
from talkinghead.evaluation.protocol import CLAHE, au_rmse, intra_class, pixel_errors, sharpness_ratio

NAMES = ("jawOpen", "mouthClose")


def test_pixel_errors_full_and_masked():
    real = np.zeros((1, 2, 2, 3), np.uint8)
    pred = real.copy()
    pred[0, 0, 0] = 12  # one pixel of four off by 12 in every channel
    mae, rmse = pixel_errors(pred, real)
    assert mae[0] == pytest.approx(3.0) and rmse[0] == pytest.approx(6.0)  # 36/12, sqrt(432/12)
    mask = np.zeros((1, 2, 2), bool)
    mask[0, 0, 0] = True
    assert pixel_errors(pred, real, mask)[0][0] == pytest.approx(12.0)
    assert pixel_errors(pred, real, ~mask)[1][0] == 0.0
    assert np.isnan(pixel_errors(pred, real, np.zeros_like(mask))[0][0])


def test_au_rmse_skips_rows_without_a_face():
    pred = np.array([[0.5, 0.0], [np.nan, np.nan], [0.1, 0.4]], np.float32)
    real = np.array([[0.2, 0.0], [0.3, 0.3], [0.1, 0.0]], np.float32)
    out = au_rmse(pred, real, NAMES)
    assert out["n"] == 2
    assert out["rmse"] == pytest.approx(math.sqrt((0.09 + 0.16) / 4))
    assert out["per_au"]["jawOpen"] == pytest.approx(math.sqrt(0.09 / 2))
    assert out["per_au"]["mouthClose"] == pytest.approx(math.sqrt(0.16 / 2))
    assert math.isnan(au_rmse(pred[1:2], real[1:2], NAMES)["rmse"])


def test_clahe_restores_contrast_of_a_washed_out_image():
    ramp = np.tile(np.linspace(100, 140, 64).astype(np.uint8)[None, :, None], (64, 1, 3))
    out = CLAHE(ramp[None])[0]
    assert out.shape == ramp.shape and out.dtype == np.uint8
    assert np.ptp(out) > 1.3 * np.ptp(ramp)


def test_face_mask_is_the_convex_hull_of_the_face_oval():
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[:, :2] = 50  # every point at the centre but the oval's, on a square
    from talkinghead.face.landmarks import FACE_OVAL

    corners = np.array([[20, 20], [80, 20], [80, 80], [20, 80]], np.float32)
    landmarks[list(FACE_OVAL), :2] = corners[np.arange(len(FACE_OVAL)) % 4]
    mask = face_mask(landmarks, 100)
    assert mask.sum() == 61 * 61 and mask[50, 50] and not mask[10, 10]


def test_intra_class_of_perfect_syntheses_is_zero():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    pairs = EvalPairs(
        targets[:1], ["a"], targets, np.zeros((2, 2), np.float32), ["a", "a"], np.array([0, 0]), np.array([0, 1])
    )
    mouths = np.zeros((2, 8, 8), bool)
    mouths[:, 4:7, 2:6] = True
    measured = Measured(rng.random((2, 2)).astype(np.float32), np.ones((2, 8, 8), bool), mouths)
    out = intra_class(targets, pairs, measured, measured, NAMES)
    assert out["pixels"]["full/raw"] == {"mae": 0.0, "rmse": 0.0, "n": 2}
    assert out["pixels"]["mask/raw"]["mae"] == 0.0 and out["pixels"]["mask/clahe"]["mae"] > 0
    assert out["pixels"]["mouth/raw"] == {"mae": 0.0, "rmse": 0.0, "n": 2}
    assert out["mouth_sharpness"] == pytest.approx(1.0)
    assert out["au"]["rmse"] == 0.0 and out["tracked"] == 1.0


def test_mouth_error_and_sharpness_see_only_the_mouth():
    rng = np.random.default_rng(1)
    real = rng.integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    mouth = np.zeros((3, 32, 32), bool)
    mouth[:, 18:26, 8:24] = True
    blurred = real.copy()
    for i in range(3):
        blurred[i][mouth[i]] = cv2.blur(real[i], (5, 5))[mouth[i]]  # a blurry average mouth
    mae, _ = pixel_errors(blurred, real, mouth)
    assert (mae > 10).all() and pixel_errors(blurred, real, ~mouth)[0].max() == 0
    assert (sharpness_ratio(blurred, real, mouth) < 0.7).all()
    assert sharpness_ratio(real, real, mouth) == pytest.approx(np.ones(3))


def test_mouth_mask_covers_the_lips():
    from talkinghead.evaluation.measure import mouth_mask
    from talkinghead.face.warp import LOWER_OUTER_LIP, UPPER_OUTER_LIP

    landmarks = np.full((478, 3), 10.0, np.float32)
    t = np.linspace(0, np.pi, len(UPPER_OUTER_LIP))
    landmarks[list(UPPER_OUTER_LIP), :2] = np.stack([50 - 20 * np.cos(t), 70 - 6 * np.sin(t)], 1)
    landmarks[list(LOWER_OUTER_LIP), :2] = np.stack([50 - 20 * np.cos(t), 70 + 8 * np.sin(t)], 1)
    mask = mouth_mask(landmarks, 100)
    assert mask[70, 50] and mask[64, 50] and mask[77, 50] and not mask[50, 50] and not mask[90, 50]


def test_controllability_of_a_perfect_and_of_a_deaf_generator():
    aus, _, _ = sweep(len(NAMES))
    perfect = np.stack([aus, aus])  # two faces whose measured AUs are exactly the requested ones
    out = controllability(perfect, NAMES)
    assert out["per_au"]["jawOpen"]["r"] == pytest.approx(1.0) and out["mean_r"] == pytest.approx(1.0)
    assert out["per_au"]["mouthClose"]["slope"] == pytest.approx(1.0)
    assert out["per_au"]["jawOpen"]["by_level"] == pytest.approx([0.0, 0.5, 1.0])
    deaf = np.full_like(perfect, 0.2)
    assert math.isnan(controllability(deaf, NAMES)["mean_r"])
    assert controllability(deaf, NAMES)["per_au"]["jawOpen"]["slope"] == pytest.approx(0.0, abs=1e-6)


def test_same_person_matches_portraits_named_after_clips():
    assert same_person("video_retalking_1", "clips__video_retalking__1")
    assert not same_person("video_retalking_1", "clips__video_retalking__2")
    assert not same_person("liveportrait_s1", "clips__liveportrait_driving__s18")


def test_intra_pairs_use_two_sources_per_speaker(synthetic_dataset):
    from gath.data import load_target_set

    target = load_target_set(synthetic_dataset, only=["spk00", "spk01"])
    pairs = intra_pairs(target, per_source=3)
    assert len(pairs.sources) == 4 and len(pairs) == 12 and len(pairs.targets) == 6
    assert pairs.source_names == ["spk00", "spk00", "spk01", "spk01"]
    assert all(pairs.target_speakers[t] == pairs.source_names[s] for s, t in zip(pairs.src, pairs.tgt))


def test_identity_embedder_separates_people(shared_data):
    from talkinghead.evaluation.identity import SAME_PERSON_THRESHOLD, FaceEmbedder, distances
    from talkinghead.face.align import detect_and_align
    from talkinghead.io.image import read_image

    folder = shared_data / "faces" / "lfw_expressions" / "images"
    files = ["George_W_Bush_0001", "George_W_Bush_0002", "Colin_Powell_0001"]
    if not all((folder / f"{f}.jpg").is_file() for f in files):
        pytest.skip(f"LFW photos {files} not found in {folder}")
    crops = np.stack([detect_and_align(read_image(folder / f"{f}.jpg")).crop for f in files])
    e = FaceEmbedder()(crops)
    same, different = distances(e[:1], e[1:2])[0], distances(e[:1], e[2:3])[0]
    assert same < SAME_PERSON_THRESHOLD < different, (same, different)


def _portraits(folder: Path) -> Path:
    from talkinghead.synthetic import draw_face

    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"face{i}.png"), cv2.cvtColor(draw_face(900 + i, {}, 160), cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    return folder


def _finite_numbers(tree) -> list[float]:
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _finite_numbers(v)]
    if isinstance(tree, list):
        return [x for v in tree for x in _finite_numbers(v)]
    return [tree] if isinstance(tree, (int, float)) and not isinstance(tree, bool) else []


@pytest.mark.slow
def test_eval_end_to_end(synthetic_dataset, tmp_path, one_torch_thread, capsys):
    weights = make_tiny_weights(tmp_path / "weights")
    out = tmp_path / "report"
    rc = main(
        [
            "eval",
            "--no-lips",
            "--variant",
            f"a={weights}",
            "--variant",
            f"b={weights / 'generator.pt'}",
            "--audio2au",
            str(weights / "audio2au.pt"),
            "--data",
            str(synthetic_dataset),
            "--speakers",
            "spk00",
            "spk01",
            "--portraits",
            str(_portraits(tmp_path / "faces")),
            "--pairs",
            "2",
            "-o",
            str(out),
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    result = json.loads((out / "eval.json").read_text())
    assert set(result) >= {"settings", "variants", "intra", "inter", "identity", "controllability", "audio2au"}
    assert result["settings"]["speakers"] == ["spk00", "spk01"] and result["settings"]["intra_pairs"] == 8
    for v in ("source copy", "a", "b"):
        assert set(result["intra"][v]["pixels"]) == {
            f"{r}/{t}" for r in ("full", "mask", "mouth") for t in ("raw", "clahe")
        }
        assert 0 < result["intra"][v]["pixels"]["full/raw"]["mae"] < 255
    for v in ("a", "b"):
        assert result["identity"][v]["n"] == 4 and result["identity"][v]["mean"] >= 0
        assert len(result["controllability"][v]["per_au"]) == 27
    assert result["intra"]["a"] == result["intra"]["b"]  # one generator, by folder and by file
    assert result["audio2au"]["speakers"] == ["spk00", "spk01"]
    assert result["audio2au"]["lip_gap"]["without_landmarks"] == ["spk00", "spk01"]  # the generated set has none
    assert all(math.isfinite(x) for x in _finite_numbers(result))
    report = (out / "report.md").read_text()
    assert "Table 1" in report and "| a |" in report and "| b |" in report and "Against the real mouth" in report
    grid = cv2.imread(str(out / "grid.png"))
    assert grid is not None and grid.shape[1] == 4 * 200
    assert all(
        (out / p).stat().st_size > 0
        for p in ("pixel_errors.png", "au_rmse.png", "controllability.png", "audio2au_sync.png")
    )
    assert not list(out.glob(".*"))  # no temp files left


@pytest.mark.parametrize(
    "args,message",
    [
        (["--variant", "a={tmp}/missing.pt"], "generator checkpoint not found"),
        (["--variant", "a={tmp}/empty"], "no generator.pt in checkpoint folder"),
        (["--variant", "nameonly"], "NAME=PATH"),
        (["--data", "{tmp}/nodata"], "not a prepared dataset"),
        (["--portraits", "{tmp}/empty"], "no images in"),
        (["--speakers", "nobody"], "no valid target frames"),
        (["--sync-only"], "--sync-only evaluates audio2au alone"),
    ],
)
def test_eval_errors_are_one_line(args, message, synthetic_dataset, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    weights = make_tiny_weights(tmp_path / "weights")
    base = {
        "--variant": f"a={weights}",
        "--data": str(synthetic_dataset),
        "--speakers": "spk00",
        "--portraits": str(tmp_path / "empty"),
    }
    given = [a.replace("{tmp}", str(tmp_path)) for a in args]
    rest = [x for k, v in base.items() if k not in given for x in (k, v)]
    rc = main(["eval", *given, *rest, "-o", str(tmp_path / "out"), "--no-lips", "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
