import numpy as np
import pytest

from actionunits import AU_NAMES, AUSeries, mirror_permutation, parse_assignments


def test_names_are_unique_arkit_style_and_mirror_swaps_sides():
    assert len(set(AU_NAMES)) == len(AU_NAMES)
    perm = mirror_permutation(AU_NAMES)
    assert sorted(perm) == list(range(len(AU_NAMES)))
    i, j = AU_NAMES.index("mouthSmileLeft"), AU_NAMES.index("mouthSmileRight")
    assert perm[i] == j and perm[j] == i
    assert perm[AU_NAMES.index("jawOpen")] == AU_NAMES.index("jawOpen")


def test_series_csv_roundtrip_with_valid_mask(tmp_path):
    values = np.random.default_rng(0).random((10, len(AU_NAMES))).astype(np.float32)
    valid = np.arange(10) % 3 != 0
    AUSeries(values, 29.97, AU_NAMES, valid).write_csv(tmp_path / "a.csv")
    back = AUSeries.read_csv(tmp_path / "a.csv")
    assert back.fps == pytest.approx(29.97, abs=1e-2)
    np.testing.assert_allclose(back.values, values, atol=1e-5)
    np.testing.assert_array_equal(back.valid, valid)
    assert not list(tmp_path.glob(".*tmp"))


def test_read_csv_maps_columns_by_name_and_rejects_garbage(tmp_path):
    p = tmp_path / "arkit.csv"
    p.write_text("time,Timecode,jawOpen,eyeBlinkLeft\n0.0,x,0.5,0.1\n0.04,y,0.7,0.2\n")
    s = AUSeries.read_csv(p).reorder(AU_NAMES)
    assert s.column("jawOpen").tolist() == pytest.approx([0.5, 0.7])
    assert s.column("mouthClose").tolist() == [0, 0]
    (tmp_path / "bad.csv").write_text("frame,foo\n1,2\n")
    with pytest.raises(ValueError, match="time"):
        AUSeries.read_csv(tmp_path / "bad.csv")


def test_parse_assignments():
    assert parse_assignments("jawOpen=0.6, mouthSmileLeft=1") == {"jawOpen": 0.6, "mouthSmileLeft": 1.0}
    for bad, msg in [
        ("jaw=0.5", "unknown AU"),
        ("jawOpen", "NAME=VALUE"),
        ("jawOpen=2", "outside"),
        ("jawOpen=x", "not a number"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_assignments(bad)


def test_progress_is_plain_lines_when_not_a_terminal(capsys):
    from actionunits import progress

    bar = progress.progress_bar(40, "frames", "frame")  # pytest's stderr is not a TTY
    assert isinstance(bar, progress.PlainProgress)
    bar.every_s = 0.0
    for _ in range(4):
        bar.update(10)
    bar.set_postfix(loss="0.1")
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines) and len(lines) == 5  # one line per update and one at the end
    assert lines[-1].startswith("frames: 40/40 (100%)") and lines[-1].endswith("loss=0.1")
    assert ", ETA " in lines[0] and "ETA" not in lines[-1]  # time left while there is some
    off = progress.progress_bar(10, "x", disable=True)
    off.update(10)
    off.close()
    assert capsys.readouterr().err == ""


def test_train_loop_checkpoints_on_schedule_on_stop_and_logs(tmp_path):
    """The shared trainer skeleton: a checkpoint every N steps, one when Ctrl+C arrives
    (the loop ends after the current step), metrics.jsonl for every logged step."""
    import json
    import os
    import signal

    from actionunits.training import TrainLoop

    saved, before = [], signal.getsignal(signal.SIGINT)  # ignored in a background job, else Python's own
    with TrainLoop(tmp_path, steps=100, start=3, name="t", checkpoint_every=5, save=saved.append) as loop:
        for step in loop:
            loop.log(step, {"x/loss": 1.0 / step})
            if step == 12:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl+C does
    assert saved == [5, 10, 12] and loop.step == 12 and not loop.finished
    assert "resume=true" in loop.done_words()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(4, 13)) and rows[-1]["x/loss"] == 1.0 / 12
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
