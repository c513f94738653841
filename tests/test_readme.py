"""Every command the README shows runs as written, or is listed here with the reason it
does not run in the test suite. The placeholder files of the examples (me.jpg,
speech.wav, ...) are shared portraits, speech and video copied under those names into a
fresh folder that the commands run in."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

NOT_RUN = {  # command prefix -> why the suite does not run it
    "sudo apt-get install": "system packages: .ci/run installs them",
    "python3 -m venv .venv": "the install itself: .ci/run makes a fresh venv exactly like this",
    ". .venv/bin/activate": "the install itself (.ci/run)",
    "pip install -e": "the install itself: .ci/run installs exactly like this, then runs the tests",
    "python -m pytest": "the test command: this suite",
    "talkinghead live": "interactive (microphone and a window or page until Ctrl+C): tests/test_live.py runs "
    "the same sessions through a virtual microphone",
    "talkinghead prepare": "builds the whole training set from ../shared/data (~20 minutes on 2 cores): "
    "tests/test_prepare.py runs it on a subset",
    "talkinghead eval": "needs a prepared dataset: tests/test_evaluation.py runs it on a generated one",
    "talkinghead pack": "needs a prepared dataset: tests/test_pack.py runs it on a generated one",
    "talkinghead batch": "needs a manifest of jobs: tests/test_batch.py and tests/test_batch_ray.py run "
    "manifests of generated jobs",
    "talkinghead train motion data.root=": "needs a prepared dataset: tests/test_motion.py runs it on generated clips",
    "talkinghead train aue data=prepared": "hours of training on real data",
    "talkinghead train gath data=prepared": "hours of training on real data",
    "talkinghead train gath experiment=gath_c": "a full training run",
    "talkinghead train gath experiment=gath_dc": "a full training run",
    "talkinghead train gath experiment=lite": "a full training run",
    "talkinghead train gath_w": "CPU-hours on real data: tests/test_refiner.py builds pairs from a real clip and "
    "trains on them, and trains and resumes on generated pairs",
    "talkinghead train gath train.steps=50000": "a full training run",
    "talkinghead train audio2au data=prepared": "training on real data",
    "torchrun": "needs several GPUs: tests/test_gath_train.py runs torchrun with 2 CPU processes",
    "tensorboard": "a server that runs until stopped",
    "talkinghead app": "a server that runs until stopped: tests/test_app.py starts it on a free port and uses it",
}
PLACEHOLDERS = {  # file name in the README -> shared data file
    "me.jpg": "portraits/video_retalking_1.png",
    "speech.wav": "speech/videoretalking_1.wav",
    "driver.mp4": "video/grid/s1/video/bbaf2n.mp4",
    "clip.mp4": "video/grid/s1/video/bbaf3s.mp4",
}


def readme_commands() -> list[str]:
    """Shell commands of the README's bash code blocks (comments stripped, continuation
    lines joined, `a && b` split into its commands)."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split("  #")[0].split(" # ")[0].split())
            if line and not line.startswith("#"):
                commands += [part.strip() for part in line.split("&&")]
    return commands


def reason(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if command.startswith(prefix)), None)


def test_readme_lists_the_two_commands_first():
    commands = readme_commands()
    assert commands[2:6] == [
        "python3 -m venv .venv",
        ". .venv/bin/activate",
        'pip install -e ".[test]"',
        "talkinghead demo",
    ]
    assert "python -m pytest -q" in commands
    assert "python -m pytest -q" in (REPO / ".ci" / "run").read_text()


def test_every_readme_command_is_run_or_listed():
    for command in readme_commands():
        assert command.startswith(("talkinghead", "python", "sudo", "torchrun", "tensorboard", ". ", "pip")), command
        assert reason(command) is not None or not command.startswith(("sudo", "torchrun", "tensorboard")), command


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in readme_commands() if reason(c) is None], ids=lambda c: c[:60])
def test_readme_command_runs_as_written(command, shared_data, tmp_path):
    for name, source in PLACEHOLDERS.items():
        shutil.copyfile(shared_data / source, tmp_path / name)
    args = shlex.split(command)
    exe = [sys.executable, "-m", "talkinghead.cli"] if args[0] == "talkinghead" else [sys.executable]
    env = {**os.environ, "TALKINGHEAD_OUTPUT": str(tmp_path / "output")}
    proc = subprocess.run(exe + args[1:], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
