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

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), n_identities=12, images_per_identity=4,
                                  n_speakers=4, clips_per_speaker=2, clip_seconds=3.0)
