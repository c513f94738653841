"""How many threads make frames on CPU, and torch's share of the cores while they do
(the render pipeline's frame workers and live's loop)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def frame_workers() -> int:
    """Threads that make frames on CPU: one per core, up to 4 (beyond that the Python
    between OpenCV's and numpy's calls, which holds the GIL, stops them from scaling)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


@contextmanager
def frame_loop_threads(cuda: bool, workers: int = 1) -> Iterator[None]:
    """While `workers` threads make frames on CPU, torch gives each its share of the cores
    (with one worker on 2 cores, one thread: the other core runs the video writer and
    ffmpeg). Oversubscribed OpenMP threads spin-wait (on 2 busy cores one GATH decoder
    thread was 2x faster than two). The old setting is restored."""
    import torch

    old = torch.get_num_threads()
    if not cuda:
        cores = len(os.sched_getaffinity(0))
        torch.set_num_threads(max(1, cores - 1) if workers == 1 else max(1, cores // workers))
    try:
        yield
    finally:
        torch.set_num_threads(old)
