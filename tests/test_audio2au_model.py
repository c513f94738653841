"""audio2au model: streaming equals offline, checkpoints round-trip, a model can fit real speech."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from actionunits import AU_NAMES, AUSeries
from actionunits.checkpoint import atomic_save
from actionunits.prepared import clip_dir, read_clips
from audio2au.checkpoint import CheckpointError, checkpoint_dict, load_audio2au
from audio2au.features import SAMPLE_RATE, FeatureConfig, compute_features, load_audio
from audio2au.losses import audio2au_loss
from audio2au.model import Audio2AU, Audio2AUNet
from audio2au.predict import predict_aus
from audio2au.stream import AUStream

CFG = FeatureConfig()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(bidirectional: bool = False, lookahead: int = 2, hidden: int = 32, seed: int = 0) -> Audio2AU:
    torch.manual_seed(seed)
    config = dict(
        n_features=CFG.dim,
        window=CFG.window,
        n_aus=len(AU_NAMES),
        conv_channels=16,
        hidden=hidden,
        layers=2,
        bidirectional=bidirectional,
        lookahead=lookahead,
    )
    net = Audio2AUNet(**config)
    net.set_normalization(torch.full((CFG.dim,), -6.0), torch.full((CFG.dim,), 3.0))
    return Audio2AU(net.eval(), CFG, AU_NAMES, 25.0, {"model": config})


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    env = np.clip(np.sin(2 * np.pi * 3.3 * t), 0, None)
    return (0.3 * env * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.normal(size=len(t))).astype(np.float32)


def _one_pass(model: Audio2AU, wav: np.ndarray, fps: float) -> np.ndarray:
    """The model over the whole utterance's features at once (the offline reference)."""
    from audio2au.features import frame_count

    feats = compute_features(wav, fps, frame_count(len(wav), fps) + model.net.lookahead, model.features)
    with torch.no_grad():
        return model.net.eval()(feats[None])[0].numpy()


def test_long_audio_is_predicted_in_chunks_with_the_same_frames():
    model = _model()
    wav = _speechlike(25.0, seed=3)[: 25 * SAMPLE_RATE - 301]  # crosses two 10 s chunk boundaries
    assert np.allclose(predict_aus(model, wav, 25.0), _one_pass(model, wav, 25.0), atol=1e-5)


@pytest.mark.parametrize("fps,lookahead", [(25, 2), (29.97, 3), (30, 0)])
def test_streaming_equals_offline(fps, lookahead):
    model = _model(lookahead=lookahead)
    wav = _speechlike(3.0)[: 3 * SAMPLE_RATE - 77]
    offline = _one_pass(model, wav, fps)
    stream, rng, chunks, i = AUStream(model, fps), np.random.default_rng(1), [], 0
    while i < len(wav):
        n = int(rng.integers(160, 641))  # 10-40 ms chunks
        chunks.append(stream.push(wav[i : i + n]))
        i += n
    before_flush = sum(len(c) for c in chunks)
    streamed = np.concatenate(chunks + [stream.flush()])
    assert streamed.shape == offline.shape == (int(np.ceil(len(wav) / SAMPLE_RATE * fps)), len(AU_NAMES))
    assert np.allclose(streamed, offline, atol=1e-5)
    # frames came out as the audio arrived: only the look-ahead's worth waited for the flush
    assert len(offline) - before_flush <= lookahead + int(np.ceil(CFG.right / SAMPLE_RATE * fps)) + 1
    assert stream.latency_s == pytest.approx(lookahead / fps + CFG.right / SAMPLE_RATE)


def test_stream_emits_each_frame_once_its_lookahead_arrived():
    model, fps = _model(lookahead=2), 25
    stream = AUStream(model, fps)
    wav = _speechlike(1.0)
    got = 0
    for i in range(0, len(wav), 320):  # 20 ms chunks, as (frames, 1) like an input callback's
        got += len(stream.push(wav[i : i + 320, None]))
        t = (i + 320) / SAMPLE_RATE  # audio received so far
        ready = [k for k in range(100) if (k + 2) / fps + CFG.right / SAMPLE_RATE <= t + 1e-9]
        assert got == len(ready)


def test_streaming_rejects_bidirectional_model():
    with pytest.raises(ValueError, match="unidirectional"):
        AUStream(_model(bidirectional=True, lookahead=0), 25)
    with pytest.raises(ValueError, match="lookahead"):
        Audio2AUNet(CFG.dim, CFG.window, 3, bidirectional=True, lookahead=2)


def test_fp16_export_round_trip_and_clear_errors(tmp_path):
    model = _model(bidirectional=True, lookahead=0)
    path = atomic_save(checkpoint_dict(model, half=True), tmp_path / "a2a.pt")
    loaded = load_audio2au(path)
    assert loaded.au_names == AU_NAMES and loaded.features == CFG and loaded.fps == 25.0
    assert all(v.dtype == torch.float16 for v in torch.load(path, weights_only=True)["state_dict"].values())
    wav = _speechlike(1.0)
    assert np.abs(predict_aus(loaded, wav, 25) - predict_aus(model, wav, 25)).max() < 5e-3
    loaded.check_au_names(AU_NAMES)
    with pytest.raises(ValueError, match="missing"):
        loaded.check_au_names(AU_NAMES + ("tongueOut",))
    with pytest.raises(ValueError, match="order"):
        loaded.check_au_names(tuple(reversed(AU_NAMES)))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_audio2au(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_audio2au(tmp_path / "none.pt")


def test_ensemble_averages_its_members_offline_and_streaming(tmp_path, capsys):
    from audio2au.ensemble import main as ensemble_main

    wav = _speechlike(2.0, seed=5)
    for bidirectional, lookahead in ((True, 0), (False, 2)):
        members = [_model(bidirectional, lookahead, seed=s) for s in (1, 2, 3)]
        paths = [atomic_save(checkpoint_dict(m, half=True), tmp_path / f"m{i}.pt") for i, m in enumerate(members)]
        ensemble_main([str(tmp_path / "ens.pt"), *map(str, paths)])
        ens = load_audio2au(tmp_path / "ens.pt")
        assert ens.net.bidirectional == bidirectional and ens.net.lookahead == lookahead
        mean = np.mean([predict_aus(load_audio2au(p), wav, 25) for p in paths], axis=0)
        assert np.abs(predict_aus(ens, wav, 25) - mean).max() < 1e-5  # predict streams the unidirectional one
        assert np.abs(_one_pass(ens, wav, 25) - mean).max() < 1e-5
        assert np.abs(mean - predict_aus(members[0], wav, 25)).max() > 1e-3  # the members do differ
    assert "3 members" in capsys.readouterr().out
    other = _model(True, 0, hidden=16)
    atomic_save(checkpoint_dict(other, half=True), tmp_path / "other.pt")
    for members, error in (
        ([paths[0], tmp_path / "other.pt"], "differ in model"),
        ([tmp_path / "ens.pt"], "single networks"),
        ([tmp_path / "none.pt"], "not found"),
    ):
        with pytest.raises(SystemExit) as exit_:
            ensemble_main([str(tmp_path / "bad.pt"), *map(str, members)])
        assert exit_.value.code == 2 and error in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()


def test_overfits_one_short_real_clip(shared_data, synthetic_dataset):
    """Real speech (5 s) against an AU series of the synthetic set stretched to its length
    (the tracker's real labels are not needed to show the model can fit speech)."""
    wav = load_audio(shared_data / "speech" / "videoretalking_1.wav")[: 4 * SAMPLE_RATE]
    rec = read_clips(synthetic_dataset)[0]
    aus = AUSeries.read_csv(clip_dir(synthetic_dataset, rec.clip) / "aus.csv").values
    n = 100  # 4 s at 25 fps
    target = torch.from_numpy(
        np.stack([np.interp(np.linspace(0, len(aus) - 1, n), np.arange(len(aus)), a) for a in aus.T], 1)
    ).float()[None]
    model = _model(bidirectional=True, lookahead=0, hidden=64)
    feats = compute_features(wav, 25, n, CFG)
    flat = feats.reshape(-1, CFG.dim)
    model.net.set_normalization(flat.mean(0), flat.std(0))
    net, mask = model.net.train(), torch.ones(1, n, dtype=torch.bool)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    first = audio2au_loss(net(feats[None]), target, mask, 1.0)[0].item()
    for _ in range(300):
        loss = audio2au_loss(net(feats[None]), target, mask, 1.0)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = predict_aus(model, wav, 25, n)
    mse = float(((pred - target[0].numpy()) ** 2).mean())
    jaw = AU_NAMES.index("jawOpen")
    assert mse < 0.03 * first, (first, mse)
    assert np.corrcoef(pred[:, jaw], target[0, :, jaw].numpy())[0, 1] > 0.95


def test_audio2au_imports_neither_gath_nor_talkinghead():
    code = (
        "import sys, audio2au, audio2au.train, audio2au.evaluate; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('gath', 'talkinghead')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
