"""Where the real (research) data lives: $TALKINGHEAD_DATA, else ../shared/data, and which
column of its video manifests (manifest.csv, one row per clip) names the speaker.

It is read in place and never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_ROOT = "../shared/data"
SPEAKER_COLUMNS = ("speaker", "speaker_id", "speaker_id_if_known")  # the first one present names the speaker


def data_root() -> Path:
    return Path(os.environ.get("TALKINGHEAD_DATA", DEFAULT_DATA_ROOT)).expanduser()
