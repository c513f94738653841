"""GATH-W: the refiner starts as the identity on the warp, learns a mouth from
pairs (`talkinghead train gath_w`, resumable), and in the renderer changes
only the parted mouth of a frame (closed lips and everything outside the crop stay the
warp's, bit-exactly)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tiny_weights import make_tiny_weights, shipped_trained_weights

from actionunits import AU_NAMES
from gath.models import WarpRefiner
from talkinghead.cli import main

JAW = AU_NAMES.index("jawOpen")


def test_untrained_refiner_returns_the_warp():
    torch.manual_seed(0)
    model = WarpRefiner(len(AU_NAMES), channels=8, n_res_blocks=1).eval()
    warped = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out, _, attention = model(warped, torch.ones(2, 1, 32, 32), torch.rand(2, len(AU_NAMES)))
    assert attention.min() > 0.9
    assert (out - warped).abs().mean() < 0.05


def test_refiner_paints_only_inside_the_parted_lips():
    model = WarpRefiner(len(AU_NAMES), channels=8, n_res_blocks=1, grow=2).eval()
    with torch.no_grad():
        model.generator.to_rgb[0].bias[3] = -5.0  # wants to paint everywhere
        opening = torch.zeros(1, 1, 32, 32)
        opening[..., 12:20, 8:24] = 1
        warped = torch.rand(1, 3, 32, 32) * 2 - 1
        out, _, attention = model(warped, opening, torch.zeros(1, len(AU_NAMES)))
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[10:22, 6:26] = False  # the opening grown by 2 px
    assert torch.equal(out[..., outside], warped[..., outside])
    assert attention[0, 0, 16, 16] < 0.01


def test_detail_refiner_paints_colour_and_keeps_the_warps_detail():
    """With detail_sigma the painted colour is smooth plus the warp's own fine detail: a
    refiner that paints everywhere keeps a fine checkerboard of the warp (as sharp as it),
    where the plain refiner replaces it by its own output."""
    from gath.losses import laplacian_energy

    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    warped = (((yy + xx) % 2) * 0.8 - 0.4).expand(1, 3, 32, 32).clone()
    opening = torch.zeros(1, 1, 32, 32)
    opening[..., 8:24, 4:28] = 1
    inside = torch.zeros(1, 1, 32, 32)
    inside[..., 12:20, 10:22] = 1
    energy = {}
    for k in (0.0, 1.5):
        model = WarpRefiner(len(AU_NAMES), channels=8, n_res_blocks=1, detail_sigma=k).eval()
        with torch.no_grad():
            model.generator.to_rgb[0].bias[3] = -5.0  # paints everywhere it may
            out, colour, attention = model(warped, opening, torch.zeros(1, len(AU_NAMES)))
        assert attention[..., 16, 16].item() < 0.01
        energy[k] = (laplacian_energy(out, inside) / laplacian_energy(warped, inside)).item()
    assert energy[1.5] > 0.9 and energy[0.0] < 0.5
    with pytest.raises(ValueError, match="detail_sigma"):
        WarpRefiner(len(AU_NAMES), detail_sigma=-1.0)


def test_discriminator_sees_only_the_mouth_region():
    from gath.data import RefinerPairs
    from gath.losses import RefinerWeights
    from gath.train_refiner import judged

    opening, mouth = torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16)
    opening[..., 6:9, 4:12] = 1
    mouth[..., 7:10, 4:12] = 1
    b = RefinerPairs(
        torch.zeros(2, 3, 16, 16),
        opening,
        torch.zeros(2, 3, 16, 16),
        mouth,
        torch.zeros(2, 3),
        torch.zeros(2, dtype=torch.long),
    )
    real, fake = torch.rand(2, 3, 16, 16) + 0.5, torch.rand(2, 3, 16, 16) + 0.5
    assert torch.equal(judged(b, RefinerWeights(), real, fake), torch.cat([real, fake]))  # the L1 stage: whole crops
    seen = judged(b, RefinerWeights(d_mouth_only=True), real, fake)
    assert seen.shape == (4, 3, 16, 16)
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[4:12, 2:14] = True  # both openings, grown by 2 px
    assert torch.equal(seen[:2][..., inside], real[..., inside]) and torch.equal(
        seen[2:][..., inside], fake[..., inside]
    )
    assert (seen[..., ~inside] == 0).all()


def write_pairs(path: Path, n: int, size: int = 24, seed: int = 0, drawing: int | None = None) -> None:
    """RefinerPairs whose target is the warp with the opening painted dark (an open mouth the warp
    did not show): learnable only by painting inside the opening."""
    rng = np.random.default_rng(seed)
    warped = rng.integers(90, 200, (n, 3, size, size), dtype=np.uint8)
    warped = cv2.blur(warped.transpose(0, 2, 3, 1).reshape(n * size, size, 3), (5, 5)).reshape(n, size, size, 3)
    warped = warped.transpose(0, 3, 1, 2).copy()
    opening = np.zeros((n, 1, size, size), np.uint8)
    for i in range(n):
        h = int(rng.integers(2, size // 3))
        cv2.ellipse(opening[i, 0], (size // 2, size // 2), (size // 3, h), 0, 0, 360, 255, -1)
    target = np.where(opening > 0, 25, warped).astype(np.uint8)
    from talkinghead.face.au_tracker import tracker_version
    from talkinghead.face.mouth import DRAWING

    np.savez(
        path,
        format=1,
        drawing=DRAWING if drawing is None else drawing,
        speakers=np.array(["a", "b"]),
        au_names=np.array(AU_NAMES),
        tracker=np.array(tracker_version()),
        warped=warped,
        opening=opening,
        target=target,
        mouth=opening,
        aus=rng.random((n, len(AU_NAMES)), np.float32),
        speaker=(np.arange(n) % 2).astype(np.int64),
    )


def train(run_dir: Path, pairs: Path, steps: int, *extra: str, experiment: str | None = None) -> int:
    stage = [f"experiment={experiment}"] if experiment else []
    return main(
        [
            "train",
            "gath_w",
            *stage,
            f"run_dir={run_dir}",
            f"refiner.pairs={pairs}",
            f"refiner.val_pairs={pairs}",
            f"train.steps={steps}",
            "train.batch_size=8",
            "train.lr=3e-3",
            "train.eval_every=20",
            "train.log_every=10",
            "train.checkpoint_every=20",
            "model.generator.channels=8",
            "model.generator.n_res_blocks=1",
            "model.discriminator.channels=8",
            *extra,
        ]
    )


def test_gath_w_learns_to_paint_the_opening_and_resumes(tmp_path):
    pairs = tmp_path / "pairs.npz"
    write_pairs(pairs, 64)
    run = tmp_path / "run"
    assert train(run, pairs, 40) == 0
    assert train(run, pairs, 80, "resume=true") == 0  # continues from step 40
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if "val/mouth_l1" in r]
    assert [r["step"] for r in val] == [20, 40, 60, 80]
    assert val[-1]["val/mouth_l1"] < 0.6 * val[-1]["val/warp_mouth_l1"]  # it paints the dark mouth
    assert val[-1]["val/painted"] > 0.3
    from talkinghead.renderers.gath_w import read_refiner

    refiner = read_refiner(run / "refiner.pt")
    assert refiner.steps == 80 and refiner.size == 24
    ckpt = torch.load(run / "refiner.pt", weights_only=True)
    ckpt["tracker"] = "another"
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="another AU tracker"):
        read_refiner(tmp_path / "other.pt")


def test_pairs_of_another_drawn_interior_are_refused(tmp_path, capsys):
    """RefinerPairs bake the renderer's drawn interior into their warped crops: after the drawing
    changes, training on old pairs would teach the refiner to fix what it never sees."""
    pairs = tmp_path / "pairs.npz"
    write_pairs(pairs, 8, drawing=1)
    assert train(tmp_path / "run", pairs, 2) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drawn interior 1" in err[0] and not (tmp_path / "run" / "refiner.pt").exists()


def test_later_stages_fine_tune_the_l1_stage(tmp_path):
    """`train gath_w` experiment=adv and =detail start from the L1 stage's exported weights
    (refiner.init): at a learning rate too small to learn anything itself, their first
    validation is already the trained refiner's; the adversarial stage logs its
    feature-matching and colour terms. The detail refiner's export keeps its blur."""
    pairs = tmp_path / "pairs.npz"
    write_pairs(pairs, 64)
    assert train(tmp_path / "l1", pairs, 40) == 0
    init = f"refiner.init={tmp_path / 'l1' / 'refiner.pt'}"
    assert train(tmp_path / "fm", pairs, 20, init, "train.lr=1e-7", "train.d_lr=1e-7", experiment="adv") == 0
    assert train(tmp_path / "detail", pairs, 20, init, "train.lr=1e-7", experiment="detail") == 0
    assert train(tmp_path / "fresh", pairs, 20, "train.lr=1e-7") == 0
    rows = {
        name: [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        for name in ("fm", "detail", "fresh")
    }
    val = {name: next(r for r in rs if "val/mouth_l1" in r) for name, rs in rows.items()}
    assert val["fm"]["val/mouth_l1"] < 0.6 * val["fm"]["val/warp_mouth_l1"]
    # the L1 stage's dark mouth, blurred: the synthetic warp's detail is faint, so it stays close
    assert val["detail"]["val/mouth_l1"] < 0.7 * val["detail"]["val/warp_mouth_l1"]
    assert val["fresh"]["val/mouth_l1"] > 0.9 * val["fresh"]["val/warp_mouth_l1"]
    assert 0 < val["fm"]["val/mouth_sharpness"] < 10
    for term in ("g/fm", "g/colour"):
        assert any(term in r for r in rows["fm"]) and not any(term in r for r in rows["fresh"])
    from talkinghead.renderers.gath_w import read_refiner

    assert read_refiner(tmp_path / "detail" / "refiner.pt").model.detail_sigma == 1.5


def test_refiner_changes_only_the_parted_mouth(shared_data, tmp_path):
    from talkinghead.portrait import Portrait
    from talkinghead.renderers.gath_w import read_refiner
    from talkinghead.renderers.warp import WarpAnimator, load_motion

    motion = load_motion(shipped_trained_weights("the renderer needs the shipped motion model"))
    weights = make_tiny_weights(tmp_path / "w")
    refiner = read_refiner(weights / "refiner.pt")
    with torch.no_grad():
        refiner.model.generator.to_rgb[0].bias[3] = -5.0  # paint everywhere in the crop: the worst case
    portrait = Portrait.open(shared_data / "portraits" / "liveportrait_s1.jpg", max_height=480)
    plain, refined = WarpAnimator(portrait, motion), WarpAnimator(portrait, motion, refiner=refiner)
    portrait = plain.portrait  # the renderer's: its rest set up
    rest, opened = portrait.aus.copy(), portrait.aus.copy()
    rest[JAW], opened[JAW] = 0.0, 1.0
    aus = np.stack([portrait.aus, opened])
    a, b = plain.frames(aus), refined.frames(aus)
    assert np.array_equal(a[0], b[0]) and np.array_equal(b[0], portrait.image)  # nothing moves: untouched
    changed = np.abs(a[1].astype(int) - b[1]).sum(-1) > 0
    assert changed.any()
    points = plain.plan(opened[None]).points[0]
    from talkinghead.face.mouth import mouth_crop

    m = cv2.invertAffineTransform(mouth_crop(a[1], points, 32)[0])
    corners = np.array([[0, 0], [32, 0], [0, 32], [32, 32]], np.float64) @ m[:, :2].T + m[:, 2]
    ys, xs = np.nonzero(changed)
    assert xs.min() >= corners[:, 0].min() - 2 and xs.max() <= corners[:, 0].max() + 2
    assert ys.min() >= corners[:, 1].min() - 2 and ys.max() <= corners[:, 1].max() + 2


def test_shading_refiner_keeps_the_frames_full_resolution_detail(shared_data, tmp_path):
    """A refiner that paints colour and shading only (detail_sigma) adds a smooth change to
    the full-resolution frame: the warped frame's fine detail in the mouth (the drawn
    teeth) survives, where a plain refiner pastes its 32 px crop over it."""
    from gath.checkpoint import export_weights
    from gath.losses import laplacian_energy
    from talkinghead.face.mouth import mouth_opening
    from talkinghead.portrait import Portrait
    from talkinghead.renderers.gath_w import read_refiner
    from talkinghead.renderers.warp import WarpAnimator, load_motion

    motion = load_motion(shipped_trained_weights("the renderer needs the shipped motion model"))
    portrait = Portrait.open(shared_data / "portraits" / "liveportrait_s1.jpg", max_height=480)
    opened = portrait.aus.copy()
    opened[JAW] = 1.0
    plain = WarpAnimator(portrait, motion)
    warped = plain.frames(opened[None])[0]
    points = plain.plan(opened[None]).points[0]
    h, w = warped.shape[:2]
    mask = mouth_opening(points, np.array([[1.0, 0, 0], [0, 1.0, 0]]), max(h, w))[:h, :w]
    inside = torch.from_numpy((mask > 0.99).astype(np.float32))[None, None]
    as_tensor = lambda x: torch.from_numpy(x.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]  # noqa: E731
    ratios = {}
    for sigma in (0.0, 1.5):
        config = {"n_aus": len(AU_NAMES), "channels": 4, "n_res_blocks": 1, "detail_sigma": sigma}
        model = WarpRefiner(**config).eval()
        with torch.no_grad():
            model.generator.to_rgb[0].bias[3] = -5.0  # paints all it may
        export_weights(
            tmp_path / f"r{sigma}.pt",
            "gath_w",
            model,
            config,
            {"au_names": list(AU_NAMES), "crop_size": 32, "steps": 0},
        )
        refiner = read_refiner(tmp_path / f"r{sigma}.pt")
        refined = WarpAnimator(portrait, motion, refiner=refiner).frames(opened[None])[0]
        assert np.abs(refined.astype(int) - warped).max() > 10  # it painted
        energy = laplacian_energy(as_tensor(refined), inside) / laplacian_energy(as_tensor(warped), inside)
        ratios[sigma] = energy.item()
    assert ratios[1.5] > 0.9 and ratios[0.0] < 0.6


def test_grey_photo_gets_a_grey_mouth(shared_data, tmp_path):
    from talkinghead.portrait import Portrait
    from talkinghead.renderers.gath_w import read_refiner
    from talkinghead.renderers.warp import WarpAnimator, load_motion

    refiner = read_refiner(make_tiny_weights(tmp_path / "w") / "refiner.pt")
    with torch.no_grad():
        refiner.model.generator.to_rgb[0].bias[:] = torch.tensor([2.0, -2.0, 0.0, -5.0])  # paints red-ish
    portrait = Portrait.open(shared_data / "portraits" / "liveportrait_s2_bw.jpg", max_height=480)
    aus = portrait.aus.copy()
    aus[JAW] = 1.0
    frame = WarpAnimator(portrait, load_motion(None), refiner=refiner).frames(aus[None])[0].astype(int)
    assert np.abs(np.diff(frame, axis=-1)).max() <= 1


def test_render_with_gath_w(shared_data, tmp_path, capsys):
    weights = make_tiny_weights(tmp_path / "w")
    out = tmp_path / "out.mp4"
    rc = main(
        [
            "render",
            "--photo",
            str(shared_data / "portraits" / "liveportrait_s1.jpg"),
            "--audio",
            str(shared_data / "speech" / "videoretalking_1.wav"),
            "-o",
            str(out),
            "--size",
            "256",
            "--generator",
            "gath_w",
            "--checkpoint",
            str(weights),
        ]
    )
    assert rc == 0 and out.is_file()
    assert "GATH-W" in capsys.readouterr().out


def test_gath_w_without_refiner_weights_is_one_clear_line(shared_data, tmp_path, capsys):
    weights = make_tiny_weights(tmp_path / "w")
    (weights / "refiner.pt").unlink()
    rc = main(
        [
            "edit",
            "--photo",
            str(shared_data / "portraits" / "liveportrait_s1.jpg"),
            "-o",
            str(tmp_path / "e.png"),
            "--generator",
            "gath_w",
            "--checkpoint",
            str(weights),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "refiner.pt" in err[0]
    assert not (tmp_path / "e.png").exists()


@pytest.mark.slow
def test_pairs_from_a_real_clip(shared_data, tmp_path):
    """A prepared GRID clip gives pairs whose crops hold the mouth in the middle, and the
    training command builds its pairs itself when they are missing."""
    from talkinghead.commands.prepare import prepare
    from talkinghead.refiner_pairs import PairOptions, build_pairs
    from talkinghead.renderers.warp import load_motion

    video = tmp_path / "videos" / "bbaf2n.mp4"
    video.parent.mkdir()
    video.symlink_to(shared_data / "video" / "grid" / "s1" / "video" / "bbaf2n.mp4")
    prepared = tmp_path / "prepared"
    prepare(prepared, targets=[(video.parent, "grid_s1")], progress=False)
    out = build_pairs(
        prepared,
        video.parent,
        tmp_path / "pairs.npz",
        load_motion(None),
        opts=PairOptions(crop_size=48, sources_per_clip=2, targets_per_source=3),
        progress=False,
    )
    d = np.load(out)
    assert d["warped"].shape == (6, 3, 48, 48) and d["target"].shape == (6, 3, 48, 48)
    assert list(d["speakers"]) == ["grid_s1"] and len(d["aus"]) == 6
    mouth = d["mouth"][:, 0].astype(float)
    open_ = mouth.sum((1, 2)) > 20
    assert open_.any()  # targets lean to mouths unlike the (closed) source
    ys, xs = np.indices((48, 48))
    for m in mouth[open_]:
        cy, cx = (m * ys).sum() / m.sum(), (m * xs).sum() / m.sum()
        assert abs(cy - 23.5) < 4 and abs(cx - 23.5) < 4
    # the real mouth is dark inside: targets are darker in their opening than around it
    t = d["target"].mean(1)[open_]
    assert (t * mouth[open_]).sum() / mouth[open_].sum() < t.mean()
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "gath_w",
                f"data.root={prepared}",
                f"refiner.videos={video.parent}",
                f"run_dir={run}",
                "train.steps=2",
                "train.batch_size=2",
                "refiner.crop_size=32",
                "model.generator.channels=4",
                "model.generator.n_res_blocks=1",
                "model.discriminator.channels=4",
            ]
        )
        == 0
    )
    assert (run / "pairs" / "train.npz").is_file() and (run / "refiner.pt").is_file()
    assert not (run / "pairs" / "val.npz").exists()  # no excluded speakers: no validation pairs
