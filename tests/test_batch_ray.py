"""`talkinghead batch --ray` on a real two-node Ray cluster on this machine: the outputs are
`render`'s, under a local run's names, whether the actors share the driver's files or get
them sent; bad inputs are recorded failures; a killed actor fails its job only and a rerun
finishes it; Ctrl+C keeps what finished; no partial file is left. Plus the scheduling
rule and an unreachable address, without a cluster."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from batch_jobs import SR, as_from_a_terminal, frames, ledger, partial_files, speech_like, wait_until

from talkinghead.batch.cluster import _take
from talkinghead.cli import main

RAY = str(Path(sys.executable).parent / "ray")
# the CLI with no actor seeing the driver's files (their probe fails), saying which videos came back by value
NOT_SHARED = """
import sys
import talkinghead.batch.cluster as c
from talkinghead.cli import main

c._probe = lambda jobs, token: [(str(token), "not its hash")]
land = c._land


def sent_back(result, target):
    if "video" in result:
        print("sent back:", target.name, file=sys.stderr)
    return land(result, target)


c._land = sent_back
sys.exit(main(sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_actor_keeps_to_one_photo_until_it_helps_with_the_longest():
    groups = [deque([0, 1, 2, 3]), deque([4]), deque([5, 6])]  # job indices, one deque a photo
    mine = [None, None]  # what each of two actors works on
    assert [_take(groups, mine, 0), _take(groups, mine, 1)] == [0, 4]  # a photo each
    assert _take(groups, mine, 1) == 5  # its photo done: the next photo no actor has
    assert [_take(groups, mine, 0), _take(groups, mine, 1)] == [1, 6]
    assert _take(groups, mine, 1) == 2  # no photo left to itself: it helps with the one with most jobs left
    assert _take(groups, mine, 0) == 3
    assert _take(groups, mine, 0) is None and _take(groups, mine, 1) is None


def test_an_unreachable_cluster_is_an_error_at_once(tmp_path, capsys):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("photo,audio\np.png,a.wav\n")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--ray", "--ray-address", address]) == 2
    assert f"cannot reach the Ray cluster at {address}" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict]]:
    """A head and a second node, one CPU each, joined at 127.0.0.1: (address, the env to
    reach it with). Each node runs under `ray start --block`, whose end stops its node, so
    the teardown stops this cluster only (`ray stop` would stop every Ray on the machine).
    A throwaway token: nothing is written to ~/.ray."""
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit in 107 bytes
    port = lambda: str(free_port())  # every port its own: another Ray on this machine is no matter
    head_port = port()
    head = ["--head", "--node-ip-address", "127.0.0.1", "--port", head_port, "--temp-dir", temp]
    head += ["--include-dashboard", "false", "--dashboard-port", port(), "--ray-client-server-port", port()]
    address = f"127.0.0.1:{head_port}"
    nodes: list[subprocess.Popen] = []

    def start(*args: str) -> None:
        log = Path(temp) / f"node{len(nodes)}.log"
        cmd = [RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args]
        with open(log, "w") as f:
            nodes.append(subprocess.Popen([*cmd, "--dashboard-agent-listen-port", port()], stdout=f, stderr=f, env=env))
        t0 = time.monotonic()
        while "Ray runtime started" not in log.read_text():
            if nodes[-1].poll() is not None or time.monotonic() - t0 > 90:
                pytest.fail(f"ray start failed:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    try:
        start(*head)
        start("--address", address)
        yield address, env
    finally:
        for proc in reversed(nodes):
            proc.terminate()
        for proc in nodes:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()  # its reaper ends the node's processes
                proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


def batch(cluster: tuple[str, dict], manifest: Path, out: Path, *extra: str, shared: bool = True) -> subprocess.Popen:
    address, env = cluster
    python = [sys.executable, "-m", "talkinghead.cli"] if shared else [sys.executable, "-c", NOT_SHARED]
    cmd = [*python, "batch", str(manifest), "-o", str(out), "--ray", "--ray-address", address, *extra]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=as_from_a_terminal
    )


@pytest.fixture
def inputs(shared_data, tmp_path) -> dict[str, Path]:
    portraits = shared_data / "portraits"
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    return {
        "grid": portraits / "grid_s1.png",
        "studio": portraits / "video_retalking_5.png",
        "a1": speech_like(tmp_path / "a1.wav", 1.2),
        "a2": speech_like(tmp_path / "a2.wav", 1.6, 220.0),
        "silent": silent,
    }


@pytest.mark.slow
def test_a_ray_batch_renders_as_render_does_shared_or_not_and_records_failures(cluster, inputs, tmp_path):
    g, s, a1, a2 = inputs["grid"], inputs["studio"], inputs["a1"], inputs["a2"]
    manifest = tmp_path / "jobs.csv"
    rows = [f"{g},{a1},,128,,", f"{g},{a2},,128,happy,1", f"{s},{a1},sub/studio.mp4,128,,"]
    rows += [f"{s},{inputs['silent']},silent.mp4,128,,", f"missing.png,{a1},missing.mp4,128,,"]  # bad inputs
    manifest.write_text("\n".join(["photo,audio,output,size,emotion,seed", *rows]) + "\n")
    runs = {}
    for shared in (True, False):
        out = tmp_path / f"out_{shared}"
        proc = batch(cluster, manifest, out, "--json", shared=shared)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 1, stderr
        summary = json.loads(stdout)
        assert (summary["done"], summary["failed"]) == (3, 2), stderr
        runs[shared] = {e["output"]: (e["status"], e.get("error")) for e in ledger(out)}
        videos = sorted(str(p.relative_to(out)) for p in out.rglob("*.mp4"))
        assert videos == ["grid_s1__a1.mp4", "grid_s1__a2.mp4", "sub/studio.mp4"]  # the names a local run gives
        assert partial_files(out) == []
        sent_back = sorted(re.findall(r"sent back: (\S+)", stderr))
        assert sent_back == ([] if shared else sorted(Path(v).name for v in videos))
    assert runs[True] == runs[False]  # errors name the driver's paths, not an actor's copies
    assert runs[True]["missing.mp4"] == ("failed", f"image not found: {tmp_path / 'missing.png'}")
    assert runs[True]["silent.mp4"] == ("failed", f"{inputs['silent']}: the audio is silent (peak below -60 dBFS)")

    renders = {
        "grid_s1__a2.mp4": ["--photo", g, "--audio", a2, "--emotion", "happy", "--seed", "1"],
        "sub/studio.mp4": ["--photo", s, "--audio", a1],
    }
    for output, argv in renders.items():
        single = tmp_path / "single.mp4"
        assert main(["render", *map(str, argv), "--size", "128", "-o", str(single), "--quiet"]) == 0
        assert frames(tmp_path / "out_True" / output) == frames(single), output
        assert frames(tmp_path / "out_False" / output) == frames(single), output


def renderer_of(partial: str, timeout: float = 30.0) -> int:
    """The actor writing the temp file `partial`: the parent of the ffmpeg encoding into it."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for proc in Path("/proc").iterdir():
            try:
                if partial in (proc / "cmdline").read_text():
                    return int(re.search(r"PPid:\s*(\d+)", (proc / "status").read_text())[1])
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError(f"no process writes {partial}")


def _start_with_long_jobs(cluster, tmp_path: Path, rows: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    """A Ray batch whose rows may name {long}, 30 s of speech; its process, manifest and OUTDIR."""
    long = speech_like(tmp_path / "long.wav", 30.0)
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("\n".join(["photo,audio,output,size", *(r.format(long=long) for r in rows)]) + "\n")
    out = tmp_path / "out"
    return batch(cluster, manifest, out), manifest, out


@pytest.mark.slow
def test_a_killed_actor_fails_its_job_only_and_the_rerun_finishes_it(cluster, inputs, tmp_path):
    g, s, a1 = inputs["grid"], inputs["studio"], inputs["a1"]
    rows = [f"{g},{{long}},long.mp4,", f"{s},{{long}},long_studio.mp4,128", f"{g},{a1},short.mp4,128"]
    proc, manifest, out = _start_with_long_jobs(cluster, tmp_path, rows)
    partial = wait_until(lambda: [p for p in partial_files(out) if p.startswith(".long.")], proc)
    actor = renderer_of(partial[0])
    assert Path(f"/proc/{actor}/cmdline").read_text().startswith("ray::"), "not a Ray worker"
    os.kill(actor, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    status = {e["output"]: (e["status"], e.get("error", "")) for e in ledger(out)}
    assert status["long.mp4"][0] == "failed" and f"Ray worker {actor} on " in status["long.mp4"][1], stderr
    assert "died" in status["long.mp4"][1] and "\n" not in status["long.mp4"][1]
    assert status["long_studio.mp4"] == ("done", "") and status["short.mp4"] == ("done", "")  # the others went on
    assert not (out / "long.mp4").exists() and partial_files(out) == []

    rerun = batch(cluster, manifest, out, "--json")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert (json.loads(stdout)["done"], json.loads(stdout)["skipped"]) == (1, 2)
    assert (out / "long.mp4").is_file() and partial_files(out) == []


@pytest.mark.slow
def test_ctrl_c_stops_the_actors_keeps_finished_outputs_and_leaves_no_partial_file(cluster, inputs, tmp_path):
    g, s, a1 = inputs["grid"], inputs["studio"], inputs["a1"]
    rows = [f"{g},{a1},first.mp4,128", f"{g},{{long}},long.mp4,", f"{s},{{long}},long_studio.mp4,"]
    proc, _, out = _start_with_long_jobs(cluster, tmp_path, rows)
    wait_until(
        lambda: (out / "first.mp4").is_file() and [p for p in partial_files(out) if p.startswith(".long.")], proc
    )
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert sorted(p.name for p in out.glob("*.mp4")) == ["first.mp4"] and partial_files(out) == []
    assert [e["output"] for e in ledger(out)] == ["first.mp4"]
