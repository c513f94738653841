"""`talkinghead batch` on the local pool: manifest errors stop it before anything renders,
bad inputs are recorded failures, outputs match `render`, a rerun does only what is
missing, and a killed worker or Ctrl+C loses no finished output and leaves no partial
file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from batch_jobs import SR, as_from_a_terminal, frames, ledger, partial_files, speech_like, wait_until, write_csv

from talkinghead.batch.ledger import Lock
from talkinghead.batch.manifest import ManifestErrors, read_manifest
from talkinghead.cli import main


@pytest.fixture
def inputs(shared_data, tmp_path) -> dict[str, Path]:
    portraits = shared_data / "portraits"
    return {
        "grid": portraits / "grid_s1.png",
        "studio": portraits / "video_retalking_5.png",
        "a1": speech_like(tmp_path / "a1.wav", 1.2),
        "a2": speech_like(tmp_path / "a2.wav", 1.6, 220.0),
        "silent": tmp_path / "silent.wav",
    }


def test_manifest_errors_are_all_reported_with_their_lines_before_anything_runs(tmp_path, capsys):
    manifest = write_csv(
        tmp_path / "jobs.csv",
        "photo,audio,output,size,emotion,colour",
        [
            "p.png,a.wav,ok.mp4,128,,",  # line 2: fine (its missing files are a job failure, later)
            "p.png,a.wav,,128,,red",  # line 3: fine but for its header's unknown column (line 1)
            "p.png,a.wav,x.mp4,big,,",  # line 4: not a number
            "p.png,a.wav,y.mp4,128,furious,",  # line 5: render refuses the emotion
            "p.png,a.wav,ok.mp4,,,",  # line 6: line 2's output
            "p.png,a.wav,../out.mp4,,,",  # line 7: outside OUTDIR
            "p.png,,z.mp4,,,",  # line 8: nothing drives the face
        ],
    )
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[2].strip() for line in err] == [f"line {n}" for n in (1, 4, 5, 6, 7, 8)]
    assert all(line.startswith("talkinghead: error: line ") for line in err)
    assert "'colour'" in err[0] and "big" in err[1] and "furious" in err[2] and "line 2" in err[3]
    assert not out.exists()  # nothing was attempted, nothing written


def test_jsonl_rows_take_render_options_in_their_own_types(tmp_path):
    rows = [
        {"photo": "p.png", "audio": "a.wav", "no_blinks": True, "au": ["jawOpen=0.2", "mouthSmileLeft=0.5"]},
        {"photo": "/abs/q.png", "au_csv": "aus.csv", "generator": "gath_w", "fps": 30, "crop_only": "false"},
    ]
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first, second = read_manifest(manifest, tmp_path / "out")
    assert first.photo == tmp_path / "p.png" and first.output == "p__a.mp4"  # relative to the manifest
    assert first.options.post.blinks is False and first.options.post.overrides == {
        "jawOpen": 0.2,
        "mouthSmileLeft": 0.5,
    }
    assert second.photo == Path("/abs/q.png") and second.audio is None and second.output == "q__aus.mp4"
    assert second.options.model.generator == "gath_w" and second.options.fps == 30 and not second.options.crop_only
    manifest.write_text(json.dumps({"photo": "p.png", "audio": "a.wav", "generator": "nope"}) + "\n")
    with pytest.raises(ManifestErrors, match="line 1: .*invalid choice: 'nope'"):
        read_manifest(manifest, tmp_path / "out")
    manifest.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[0], "sise": 128}) + "\n")
    with pytest.raises(ManifestErrors, match="^line 2: unknown field 'sise'$"):
        read_manifest(manifest, tmp_path / "out")


def test_head_motion_is_a_row_option_with_renders_default_and_check(tmp_path):
    """`head_motion` per row, as CSV text or a JSON number (0 included: a still head); an
    empty cell is render's default; a value render refuses is a manifest error."""
    from talkinghead.aupost import MAX_HEAD_MOTION, PostOptions

    rows = ["p.png,a.wav,still.mp4,0", "p.png,a.wav,more.mp4,1.5", "p.png,a.wav,natural.mp4,"]
    jobs = read_manifest(write_csv(tmp_path / "jobs.csv", "photo,audio,output,head_motion", rows), tmp_path / "out")
    assert [j.options.post.head_motion for j in jobs] == [0, 1.5, PostOptions().head_motion]
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text(json.dumps({"photo": "p.png", "audio": "a.wav", "head_motion": 0}) + "\n")
    assert read_manifest(manifest, tmp_path / "out")[0].options.post.head_motion == 0
    bad = {"photo": "p.png", "audio": "b.wav", "head_motion": MAX_HEAD_MOTION + 1}
    manifest.write_text(manifest.read_text() + json.dumps(bad) + "\n")
    with pytest.raises(ManifestErrors, match=rf"^line 2: --head-motion must be in \[0, {MAX_HEAD_MOTION:g}\]"):
        read_manifest(manifest, tmp_path / "out")


def test_a_batch_renders_as_render_does_records_failures_and_reruns_only_what_is_missing(inputs, tmp_path, capsys):
    sf.write(inputs["silent"], np.zeros(SR, np.float32), SR)
    g, s, a1, a2 = inputs["grid"], inputs["studio"], inputs["a1"], inputs["a2"]
    manifest = write_csv(
        tmp_path / "jobs.csv",
        "photo,audio,output,size,emotion,seed",
        [
            f"{g},{a1},,128,,",
            f"{g},{a2},,128,happy,1",
            f"{s},{a1},studio.mp4,128,,",
            f"{s},{inputs['silent']},silent.mp4,128,,",  # a bad input: a job failure, the others go on
            f"missing.png,{a1},missing.mp4,128,,",
        ],
    )
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "-o", str(out), "--workers", "2"]) == 1
    summary = capsys.readouterr().out
    assert "3 done, 2 failed, 0 already done of 5 jobs" in summary
    attempts = {e["output"]: e for e in ledger(out)}
    assert {k: e["status"] for k, e in attempts.items()} == {
        "grid_s1__a1.mp4": "done",
        "grid_s1__a2.mp4": "done",
        "studio.mp4": "done",
        "silent.mp4": "failed",
        "missing.mp4": "failed",
    }
    assert "silent" in attempts["silent.mp4"]["error"] and "not found" in attempts["missing.mp4"]["error"]
    assert attempts["studio.mp4"]["inputs"]["photo"]["sha256"] and attempts["studio.mp4"]["line"] == 4
    assert sorted(p.name for p in out.glob("*.mp4")) == ["grid_s1__a1.mp4", "grid_s1__a2.mp4", "studio.mp4"]
    assert partial_files(out) == []

    single = tmp_path / "single.mp4"
    argv = ["render", "--photo", str(g), "--audio", str(a2), "--size", "128", "--emotion", "happy", "--seed", "1"]
    assert main([*argv, "-o", str(single), "--quiet"]) == 0
    assert frames(out / "grid_s1__a2.mp4") == frames(single)  # the batch renders what render renders

    # a rerun retries the failures only; with them fixed, it renders nothing
    assert main(["batch", str(manifest), "-o", str(out), "--json"]) == 1
    rerun = json.loads(capsys.readouterr().out)
    assert (rerun["done"], rerun["failed"], rerun["skipped"]) == (0, 2, 3)
    manifest.write_text("\n".join(manifest.read_text().splitlines()[:4]) + "\n")
    before = len(ledger(out))
    assert main(["batch", str(manifest), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 3 and len(ledger(out)) == before

    # a changed option renders that job again, and only that one
    manifest.write_text(manifest.read_text().replace(f"{s},{a1},studio.mp4,128,,", f"{s},{a1},studio.mp4,128,sad,"))
    assert main(["batch", str(manifest), "-o", str(out), "--json"]) == 0
    assert [e["output"] for e in ledger(out)[before:]] == ["studio.mp4"]


def test_a_second_batch_cannot_share_the_output_folder(tmp_path, capsys):
    manifest = write_csv(tmp_path / "jobs.csv", "photo,audio", ["p.png,a.wav"])
    out = tmp_path / "out"
    out.mkdir()
    with Lock(out):
        assert main(["batch", str(manifest), "-o", str(out)]) == 2
    assert "another batch is running" in capsys.readouterr().err


def _start(manifest: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "talkinghead.cli", "batch", str(manifest), "-o", str(out), *extra]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )


def _start_with_a_long_job(tmp_path: Path, rows: list[str], seconds: float) -> tuple[subprocess.Popen, Path, Path]:
    """A batch on one worker whose rows may name {long}, speech `seconds` long; its process,
    manifest and OUTDIR."""
    long = speech_like(tmp_path / "long.wav", seconds)
    manifest = write_csv(tmp_path / "jobs.csv", "photo,audio,output,size", [r.format(long=long) for r in rows])
    out = tmp_path / "out"
    return _start(manifest, out, "--workers", "1"), manifest, out


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_the_rerun_finishes(inputs, tmp_path):
    g = inputs["grid"]
    rows = [f"{g},{{long}},long.mp4,", f"{g},{inputs['a1']},short.mp4,128"]
    proc, manifest, out = _start_with_a_long_job(tmp_path, rows, 12.0)
    wait_until(lambda: partial_files(out), proc)  # a render is mid-way
    worker = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[-1])
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    status = {e["output"]: (e["status"], e.get("error", "")) for e in ledger(out)}
    assert status["long.mp4"][0] == "failed" and "died (SIGKILL)" in status["long.mp4"][1]
    assert status["short.mp4"] == ("done", "")  # the replacement worker rendered the rest
    assert not (out / "long.mp4").exists() and partial_files(out) == []
    rerun = _start(manifest, out, "--json")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert (json.loads(stdout)["done"], json.loads(stdout)["skipped"]) == (1, 1)
    assert (out / "long.mp4").is_file() and partial_files(out) == []


@pytest.mark.slow
def test_ctrl_c_keeps_finished_outputs_and_leaves_no_partial_file(inputs, tmp_path):
    g = inputs["grid"]
    rows = [f"{g},{inputs['a1']},first.mp4,128", f"{g},{{long}},long.mp4,"]
    proc, _, out = _start_with_a_long_job(tmp_path, rows, 20.0)
    wait_until(lambda: (out / "first.mp4").is_file() and partial_files(out), proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl+C does: the whole process group
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (out / "first.mp4").is_file() and not (out / "long.mp4").exists() and partial_files(out) == []
    assert [e["output"] for e in ledger(out)] == ["first.mp4"]
