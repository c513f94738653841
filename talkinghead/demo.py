"""The bundled example for `talkinghead demo`: nothing is downloaded.

Portrait: Grace Hopper, the public-domain U.S. Navy photo that matplotlib ships as sample
data (matplotlib is a dependency). Speech: talkinghead/assets/speech.wav, made once with
espeak-ng (see talkinghead/assets/README.md).
"""

from __future__ import annotations

from pathlib import Path

SPEECH = Path(__file__).resolve().parent / "assets" / "speech.wav"


def demo_photo() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
