"""Where the real (research) data lives: $TALKINGHEAD_DATA, else ../shared/data.

It is read in place and never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_ROOT = "../shared/data"


def data_root() -> Path:
    return Path(os.environ.get("TALKINGHEAD_DATA", DEFAULT_DATA_ROOT)).expanduser()
