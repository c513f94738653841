"""`talkinghead train audio2au` on the synthetic set: runs, writes its outputs, resumes
exactly after an interruption; evaluation against the baselines prints a table."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import audio2au.train
from audio2au.checkpoint import load_audio2au, read_checkpoint
from audio2au.data import load_clips
from audio2au.evaluate import LoudnessBaseline, evaluate, pearson
from audio2au.evaluate import main as evaluate_main
from audio2au.predict import predict_aus
from audio2au.stream import AUStream
from talkinghead.cli import main


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _train(root, run_dir, *extra: str) -> int:
    return main(
        [
            "train",
            "audio2au",
            f"data.root={root}",
            f"run_dir={run_dir}",
            "train.steps=4",
            "train.batch_size=4",
            "train.seq_len=20",
            "train.eval_every=2",
            "train.checkpoint_every=2",
            "train.log_every=1",
            "train.threads=1",
            "train.warmup=2",
            "train.speed_perturb=[1.1]",
            "train.codecs=[opus]",  # one, for speed (tests/test_audio2au_degrade.py has them all)
            "model.hidden=16",
            "model.conv_channels=8",
            "split.val_speakers=[spk03]",
            "train.ema=0.5",
            *extra,
        ]
    )


def test_train_resumes_exactly_after_interruption(synthetic_dataset, tmp_path, monkeypatch, capsys):
    assert _train(synthetic_dataset, tmp_path / "straight") == 0
    run = tmp_path / "straight"
    for name in ("checkpoint.pt", "audio2au.pt", "audio2au_best.pt", "val_mouth.png"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    straight = read_checkpoint(run / "checkpoint.pt")
    assert straight["step"] == 4 and straight["info"]["val_speakers"] == ["spk03"]
    assert "spk03" not in straight["info"]["train_speakers"]
    exported = torch.load(run / "audio2au.pt", weights_only=True)
    assert exported["state_dict"]["head.weight"].dtype == torch.float16 and "optimizer" not in exported

    real_save = audio2au.train.atomic_save

    def save_then_die(obj, path):
        saved = real_save(obj, path)
        if obj.get("step") == 2:
            raise KeyboardInterrupt  # killed right after the step-2 checkpoint
        return saved

    monkeypatch.setattr(audio2au.train, "atomic_save", save_then_die)
    assert _train(synthetic_dataset, tmp_path / "resumed") == 130
    assert read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 2
    monkeypatch.setattr(audio2au.train, "atomic_save", real_save)
    capsys.readouterr()
    assert _train(synthetic_dataset, tmp_path / "resumed", "resume=true") == 0
    assert "at step 2" in capsys.readouterr().out
    logged = [
        json.loads(line)["step"]
        for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
        if "train/loss" in line
    ]
    assert logged == [1, 2, 3, 4], logged  # continued after step 2 (the log appends), not restarted
    resumed = read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert resumed["step"] == 4
    for k, v in straight["state_dict"].items():
        assert torch.allclose(v, resumed["state_dict"][k], atol=1e-6), k
        assert torch.allclose(straight["ema_state_dict"][k], resumed["ema_state_dict"][k], atol=1e-6), k
    # the export is the moving average, not the last step's weights
    assert torch.equal(exported["state_dict"]["head.weight"], straight["ema_state_dict"]["head.weight"].half())
    assert not torch.equal(straight["ema_state_dict"]["head.weight"], straight["state_dict"]["head.weight"])

    # evaluation: the CLI-style entry point prints the table for the held-out speaker
    assert evaluate_main([str(run / "audio2au.pt"), "--data", str(synthetic_dataset)]) == 0


def test_streaming_variant_trains_and_streams(synthetic_dataset, tmp_path, capsys):
    assert _train(synthetic_dataset, tmp_path / "run", "train.steps=2", "audio2au/model=stream") == 0
    model = load_audio2au(tmp_path / "run" / "audio2au.pt")
    assert model.net.lookahead == 2 and not model.net.bidirectional
    wav = load_clips(synthetic_dataset)[0][0].waveform
    stream = AUStream(model, 25)
    streamed = np.concatenate([stream.push(wav[i : i + 480]) for i in range(0, len(wav), 480)] + [stream.flush()])
    assert np.allclose(streamed, predict_aus(model, wav, 25), atol=1e-5)
    assert _train(synthetic_dataset, tmp_path / "run", "resume=true", "audio2au/model=stream", "model.hidden=24") == 2
    assert "another model/feature config" in capsys.readouterr().err


def test_train_on_missing_prepared_data_is_a_clear_error(tmp_path, capsys):
    assert (
        main(["train", "audio2au", "data=prepared", f"data.root={tmp_path / 'nothing'}", f"run_dir={tmp_path / 'run'}"])
        == 2
    )
    assert "talkinghead prepare" in capsys.readouterr().err


def test_loudness_baseline_tracks_synthetic_jaw(synthetic_dataset, tmp_path, capsys):
    """The synthetic audio's loudness follows jawOpen, so the loudness baseline must find
    it and the mean baseline must not; the table lists the mouth AUs."""
    clips, names = load_clips(synthetic_dataset)
    train, test = [c for c in clips if c.speaker != "spk03"], [c for c in clips if c.speaker == "spk03"]
    jaw = names.index("jawOpen")
    base = LoudnessBaseline(train)
    y = np.concatenate([c.aus[:, jaw] for c in test])
    p = np.concatenate([base.predict(c.waveform, c.fps, len(c.aus))[:, jaw] for c in test])
    assert pearson(p, y) > 0.8
    assert _train(synthetic_dataset, tmp_path / "run", "train.steps=1") == 0
    results = evaluate(load_audio2au(tmp_path / "run" / "audio2au.pt"), test, train)
    assert np.isnan(results["mean"]["r"][jaw]) and results["loudness"]["r"][jaw] > 0.8
    assert results["loudness"]["rmse"][jaw] < results["mean"]["rmse"][jaw]


def test_renderer_targets_and_loss_options_train(synthetic_dataset, tmp_path):
    lips = "[jawOpen,mouthFunnel]"
    assert (
        _train(
            synthetic_dataset,
            tmp_path / "run",
            "train.steps=2",
            f"train.rest_aus={lips}",
            f"train.lip_aus={lips}",
            "train.lip_weight=3.0",
            "train.gap_weight=2.0",
            "train.ccc_weight=0.5",
            "train.noise_snr_db=[5,30]",
            "train.gap_corr_weight=0.5",
            "train.silence_weight=3",
            "train.select=loss",
        )
        == 0
    )
    info = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["info"]
    assert info["targets"]["rest_aus"] == ["jawOpen", "mouthFunnel"] and info["targets"]["hangover"] == [6, 2]
    assert _train(synthetic_dataset, tmp_path / "bad", "train.lip_aus=[jawOpn]") == 2  # a typo is an error
