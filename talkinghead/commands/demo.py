"""The bundled example for `talkinghead demo`: nothing is downloaded.

Portrait: Grace Hopper, the public-domain U.S. Navy photo that matplotlib ships as sample
data (matplotlib is a dependency). Speech: talkinghead/assets/speech.wav, made once with
espeak-ng (see talkinghead/assets/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

SPEECH = Path(__file__).resolve().parents[1] / "assets" / "speech.wav"
OUTPUT_ENV = "TALKINGHEAD_OUTPUT"


def demo_output() -> Path:
    """Where `demo` writes without -o: $TALKINGHEAD_OUTPUT or ~/talkinghead-output/ (made
    when missing), never the current folder, so a checkout stays clean."""
    folder = Path(os.environ.get(OUTPUT_ENV) or Path.home() / "talkinghead-output")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "talkinghead_demo.mp4"


def demo_photo() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
