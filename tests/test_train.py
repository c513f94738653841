"""`talkinghead train NAME`: each trainer composes its own config (configs/train_NAME.yaml)
with its own experiments, prepares its data, then runs; an experiment of another trainer
is a one-line error. The trainers themselves are stubbed here (their own tests train)."""

from __future__ import annotations

import pytest

import talkinghead.commands.train as train
from talkinghead.cli import main
from talkinghead.config import load_config
from talkinghead.errors import UserError


@pytest.fixture
def trained(monkeypatch):
    """Stub the trainers and the data steps; returns what ran, in order, with the config."""
    ran = []
    for name, t in train.TRAINERS.items():
        module, function = t.train.split(":")
        monkeypatch.setattr(f"{module}.{function}", lambda cfg, name=name: ran.append((name, cfg)))
    monkeypatch.setattr("talkinghead.refiner_pairs.ensure_pairs", lambda cfg: ran.append(("pairs", cfg)))
    monkeypatch.setattr("talkinghead.synthetic.ensure_synthetic_dataset", lambda root, crop_size: None)
    return ran


def test_every_trainer_composes_its_own_config():
    assert train.TRAINER_NAMES == ("motion", "aue", "gath", "gath_w", "audio2au", "head_motion")
    for name in train.TRAINER_NAMES:
        assert train.TRAINERS[name].config == f"train_{name}"
        assert "run_dir" in load_config(f"train_{name}")


def test_train_gath_w_builds_pairs_then_trains_the_refiner(trained):
    assert main(["train", "gath_w"]) == 0
    assert [name for name, _ in trained] == ["pairs", "gath_w"]
    cfg = trained[-1][1]
    assert cfg.variant == "gath_w" and cfg.run_dir == "runs/gath_w" and not cfg.data.synthetic
    assert cfg.refiner.pairs == "runs/gath_w/pairs/train.npz" and cfg.model.generator.channels == 16
    trained.clear()
    assert main(["train", "gath_w", "experiment=detail"]) == 0
    cfg = trained[-1][1]
    assert cfg.variant == "gath_w_detail" and cfg.run_dir == "runs/gath_w_detail"
    assert cfg.refiner.init == "runs/gath_w/refiner.pt" and cfg.refiner.crop_size == 48
    assert cfg.model.generator.detail_sigma == 1.5


@pytest.mark.parametrize(
    "command",
    [
        ["gath", "experiment=adv"],
        ["gath", "experiment=gath_w"],
        ["gath_w", "experiment=gath_c"],
        ["aue", "experiment=lite"],
    ],
)
def test_another_trainers_experiment_is_one_line(trained, capsys, command):
    assert main(["train", *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"Could not find 'experiment/{command[1].split('=')[1]}'" in err[0]
    assert "(options: " in err[0] and not trained


def test_smoke_trains_the_missing_au_estimator_first(trained, monkeypatch, tmp_path):
    """aue_bootstrap (set by experiment=smoke) on generated data: the AU estimator is trained
    first, with the run's experiment, data and device; otherwise its absence is an error."""
    aue = tmp_path / "aue" / "au_estimator.pt"
    run_training = train.run_training
    calls = []
    monkeypatch.setattr(train, "run_training", lambda name, overrides: calls.append((name, overrides)))
    run_training("gath", ["experiment=smoke", f"aue_checkpoint={aue}", "device=cpu", "train.steps=3"])
    assert calls == [("aue", ["experiment=smoke", "device=cpu", f"run_dir={aue.parent}"])]
    assert [name for name, _ in trained] == ["gath"]
    for overrides in ([], ["experiment=smoke", "data=prepared"]):
        with pytest.raises(UserError, match="no AU estimator at .*talkinghead train aue"):
            run_training("gath", [*overrides, f"aue_checkpoint={aue}"])
    assert len(calls) == 1
