"""GATH training: step isolation, learning, exact resume, configs, checkpoints, torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gath.checkpoint import CheckpointError, load, load_model
from gath.data import Augment, Batcher, load_source_set, load_target_set, to_unit_range
from gath.losses import LossWeights
from gath.models import AUEstimator, DiscriminatorClassifier, Generator
from gath.runtime import setup_runtime
from gath.train import Nets, d_step, g_step
from talkinghead.commands.train import run_training
from talkinghead.config import load_config

TINY = [
    "model.generator.channels=8",
    "model.generator.n_res_blocks=1",
    "model.discriminator.channels=8",
    "model.discriminator.n_layers=4",
    "train.batch_size=8",
    "device=cpu",
]
TRAIN_GATH = ["-m", "talkinghead.cli", "train", "gath"]  # after a Python interpreter


def gath_overrides(dataset: Path, run_dir: Path, aue_checkpoint: Path) -> list[str]:
    """The overrides every GATH run here needs: its data, its run folder and its AU estimator."""
    return [f"data.root={dataset}", f"run_dir={run_dir}", f"aue_checkpoint={aue_checkpoint}"]


@pytest.fixture(scope="module")
def aue_checkpoint(synthetic_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("aue")
    run_training(
        "aue",
        [
            f"data.root={synthetic_dataset}",
            f"run_dir={run}",
            "experiment=smoke",
            "train.steps=150",
            "train.batch_size=32",
            "model.au_estimator.channels=8",
            "device=cpu",
        ],
    )
    return run / "au_estimator.pt"


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def tiny_nets():
    torch.manual_seed(0)
    aue = AUEstimator(n_aus=5, channels=4, hidden=8).eval().requires_grad_(False)
    return Nets(Generator(n_aus=5, channels=4, n_res_blocks=1), DiscriminatorClassifier(3, channels=4, n_layers=3), aue)


def snapshot(m):
    return [p.detach().clone() for p in m.parameters()]


def changed(before, m):
    return [not torch.equal(a, b) for a, b in zip(before, m.parameters())]


def test_d_step_updates_only_dc_and_g_step_only_g():
    nets = tiny_nets()
    rt = setup_runtime("cpu", "fp32", False, False)
    opt_g = torch.optim.Adam(nets.generator.parameters(), 1e-3)
    opt_d = torch.optim.Adam(nets.dc.parameters(), 1e-3)
    x, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    e, labels = torch.rand(4, 5), torch.tensor([0, 1, 2, 0])
    w = LossWeights()
    g0, d0, e0 = snapshot(nets.generator), snapshot(nets.dc), snapshot(nets.aue)
    fake = nets.generator(x, e)
    d_step(nets, opt_d, x, labels, fake, w, rt)
    assert all(changed(d0, nets.dc)) and not any(changed(g0, nets.generator))
    g1, d1 = snapshot(nets.generator), snapshot(nets.dc)
    g_step(nets, opt_g, x, labels, y, fake, w, rt)
    assert not any(changed(d1, nets.dc))
    assert sum(changed(g1, nets.generator)) > 0.9 * len(g1)
    assert not any(changed(e0, nets.aue))
    assert all(p.requires_grad for p in nets.dc.parameters())  # unfrozen again after the G step


def test_augment_flip_mirrors_left_right_aus():
    names = ("jawOpen", "mouthSmileLeft", "mouthSmileRight")
    aug = Augment(flip=True, au_names=names)
    x = torch.arange(8.0).reshape(1, 1, 2, 4).expand(64, 3, 2, 4)
    aus = torch.tensor([[0.1, 0.9, 0.2]]).expand(64, 3)
    out, out_aus = aug(x, torch.Generator().manual_seed(0), aus)
    flipped = out[:, 0, 0, 0] == 3
    assert 0 < flipped.sum() < 64
    assert torch.equal(out_aus[flipped], torch.tensor([[0.1, 0.2, 0.9]]).expand(int(flipped.sum()), 3))
    assert torch.equal(out_aus[~flipped], aus[~flipped])


def test_datasets_load_the_prepared_format(synthetic_dataset):
    source, target = load_source_set(synthetic_dataset), load_target_set(synthetic_dataset)
    assert source.images.shape[1:] == (3, 100, 100) and source.images.dtype == torch.uint8
    assert len(source.classes) == 12 and source.labels.max() == 11
    assert target.aus.shape == (len(target.images), len(target.au_names))
    assert 0 <= target.aus.min() and target.aus.max() <= 1
    b = Batcher((target.images, target.aus), torch.device("cpu"), seed=0)
    x, a = b.sample(5)
    assert x.shape == (5, 3, 100, 100) and a.shape == (5, len(target.au_names))
    assert -1 <= to_unit_range(x).min() and to_unit_range(x).max() <= 1


@pytest.mark.slow
def test_training_lowers_rec_and_au_losses(synthetic_dataset, aue_checkpoint, tmp_path):
    run_training(
        "gath",
        [
            *gath_overrides(synthetic_dataset, tmp_path, aue_checkpoint),
            "train.steps=200",
            "train.log_every=1",
            "train.checkpoint_every=1000",
            "train.lr=1e-3",
            *TINY,
        ],
    )
    m = metrics(tmp_path)
    first, last = m[:10], m[-20:]
    for key in ("g/rec", "g/au"):
        before = sum(r[key] for r in first) / len(first)
        after = sum(r[key] for r in last) / len(last)
        assert after < 0.8 * before, (key, before, after)
    generator, meta = load_model(tmp_path / "generator.pt", "generator", Generator)
    assert meta["crop_size"] == 100 and len(meta["au_names"]) == generator.n_aus
    assert all(
        v.dtype == torch.float16
        for v in load(tmp_path / "generator.pt")["state_dict"].values()
        if v.is_floating_point()
    )


@pytest.mark.slow
def test_resume_reproduces_the_next_step_exactly(synthetic_dataset, aue_checkpoint, tmp_path):
    common = [f"data.root={synthetic_dataset}", f"aue_checkpoint={aue_checkpoint}", "train.log_every=1", *TINY]
    run_training("gath", [*common, f"run_dir={tmp_path / 'a'}", "train.steps=4"])
    run_training("gath", [*common, f"run_dir={tmp_path / 'b'}", "train.steps=2"])
    assert load(tmp_path / "b" / "checkpoint.pt")["step"] == 2
    run_training("gath", [*common, f"run_dir={tmp_path / 'b'}", "train.steps=4", "resume=true"])
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert a[2] == b[2] and a[3] == b[3]  # bit-identical losses after the resume
    wa, wb = load(tmp_path / "a" / "generator.pt"), load(tmp_path / "b" / "generator.pt")
    assert all(torch.equal(wa["state_dict"][k], wb["state_dict"][k]) for k in wa["state_dict"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant,has_d,has_c", [("gath", True, True), ("gath_c", True, False), ("gath_dc", False, False)]
)
def test_variants_and_overrides_reach_the_models(synthetic_dataset, aue_checkpoint, tmp_path, variant, has_d, has_c):
    cfg = load_config("train_gath", [f"experiment={variant}", "model.generator.channels=12"])
    assert cfg.variant == variant and cfg.loss.use_discriminator == has_d and cfg.loss.use_classifier == has_c
    run_training(
        "gath",
        [
            f"experiment={variant}",
            f"data.root={synthetic_dataset}",
            f"run_dir={tmp_path}",
            f"aue_checkpoint={aue_checkpoint}",
            "train.steps=2",
            *TINY,
            "model.generator.channels=12",
        ],
    )
    ckpt = load(tmp_path / "checkpoint.pt")
    assert ckpt["modules"]["generator"]["encoder.0.0.weight"].shape[0] == 12
    assert ("dc" in ckpt["modules"]) == has_d
    if has_d:
        assert any(k.startswith("c_head") for k in ckpt["modules"]["dc"]) == has_c
    assert ckpt["variant"] == variant


def test_lite_experiment_selects_the_lite_generator():
    cfg = load_config("train_gath", ["experiment=lite"])
    assert cfg.model.generator.channels == 32 and cfg.model.generator.n_res_blocks == 3


@pytest.mark.slow
def test_corrupt_missing_and_mismatched_checkpoints_are_clear_errors(aue_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load(bad)
    with pytest.raises(CheckpointError, match="expected 'generator'"):
        load(aue_checkpoint, "generator")
    truncated = tmp_path / "au_estimator.pt"
    truncated.write_bytes(aue_checkpoint.read_bytes()[:-100])
    (tmp_path / "manifest.json").write_text((aue_checkpoint.parent / "manifest.json").read_text())
    with pytest.raises(CheckpointError, match="SHA-256"):
        load(truncated)


@pytest.mark.slow
def test_cli_reports_missing_aue_as_one_line(synthetic_dataset, tmp_path):
    overrides = gath_overrides(synthetic_dataset, tmp_path, tmp_path / "missing.pt")
    r = subprocess.run([sys.executable, *TRAIN_GATH, *overrides, "device=cpu"], capture_output=True, text=True)
    assert r.returncode == 2
    assert (
        r.stderr.strip().count("\n") == 0 and "no AU estimator at" in r.stderr and "talkinghead train aue" in r.stderr
    )
    r = subprocess.run([sys.executable, *TRAIN_GATH, "train.nope=1"], capture_output=True, text=True)
    assert r.returncode == 2 and "bad config override" in r.stderr


@pytest.mark.slow
def test_torchrun_ddp_on_cpu(synthetic_dataset, aue_checkpoint, tmp_path):
    """Two gloo processes: same code path as multi-GPU DDP."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531"]
    r = subprocess.run(
        [*torchrun, *TRAIN_GATH, *gath_overrides(synthetic_dataset, tmp_path, aue_checkpoint), "train.steps=3", *TINY],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert load(tmp_path / "checkpoint.pt")["step"] == 3
    assert (tmp_path / "generator.pt").is_file()


@pytest.mark.slow
def test_au_output_term_and_fine_tuning_from_generator_weights(synthetic_dataset, aue_checkpoint, tmp_path):
    common = [f"data.root={synthetic_dataset}", f"aue_checkpoint={aue_checkpoint}", "train.log_every=1", *TINY]
    run_training("gath", [*common, f"run_dir={tmp_path / 'a'}", "train.steps=2", "loss.au_out=5"])
    assert all("g/au_out" in r for r in metrics(tmp_path / "a"))
    # an ablation fine-tuned from those weights: G starts there, D/C (none for GATH-DC) and step are fresh
    run_training(
        "gath",
        [
            *common,
            "experiment=gath_dc",
            f"run_dir={tmp_path / 'b'}",
            "train.steps=0",
            f"init_generator={tmp_path / 'a' / 'generator.pt'}",
        ],
    )
    wa, wb = load(tmp_path / "a" / "generator.pt"), load(tmp_path / "b" / "generator.pt")
    assert all(torch.equal(wa["state_dict"][k], wb["state_dict"][k]) for k in wa["state_dict"])
    assert load(tmp_path / "b" / "checkpoint.pt")["step"] == 0
