"""Shared fixtures. Tests that need the real data skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_torch_thread():
    """Small tensors: one thread is faster than two fighting other jobs for two cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = Path(os.environ.get("TALKINGHEAD_DATA", REPO.parent / "shared" / "data"))
    if not (root / "README.md").is_file():
        pytest.skip(f"real data not found at {root} (set TALKINGHEAD_DATA)")
    return root


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """A small generated dataset in the prepared format, made once per test session."""
    from talkinghead.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(
        tmp_path_factory.mktemp("synthetic"),
        n_identities=12,
        images_per_identity=4,
        n_speakers=4,
        clips_per_speaker=2,
        clip_seconds=3.0,
    )


@pytest.fixture(scope="session")
def virtual_mic():
    """A real audio input without a sound card: a PulseAudio null sink whose monitor is the
    default source, so what `paplay -d <sink>` plays is what the microphone stream records.
    Starts the daemon when none runs (and stops it afterwards); skips with the reason when
    PulseAudio is not installed or will not start."""
    import shutil
    import subprocess
    import time

    if not (shutil.which("pulseaudio") and shutil.which("pactl") and shutil.which("paplay")):
        pytest.skip("no PulseAudio (Debian: apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20)

    started = run("pulseaudio", "--check").returncode != 0
    if started:
        run("pulseaudio", "-D", "--exit-idle-time=-1")
        for _ in range(50):
            if run("pulseaudio", "--check").returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.skip("pulseaudio did not start")
    sink = "talkinghead_test_mic"
    module = run("pactl", "load-module", "module-null-sink", f"sink_name={sink}")
    if module.returncode != 0:
        pytest.skip(f"cannot create a PulseAudio null sink: {module.stderr.strip()}")
    old_source = run("pactl", "get-default-source").stdout.strip()
    run("pactl", "set-default-source", f"{sink}.monitor")
    run("pactl", "unload-module", "module-suspend-on-idle")  # an idle monitor must still deliver silence
    yield sink
    if old_source:
        run("pactl", "set-default-source", old_source)
    run("pactl", "unload-module", module.stdout.strip())
    if started:
        run("pulseaudio", "--kill")
