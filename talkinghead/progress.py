"""Stage timing and progress display for the offline commands (render, reenact, edit).

The same numbers feed the user's progress lines, the summary's real-time factor and the
benchmark's per-stage table, so what the benchmark reports is what users see.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from actionunits.progress import progress_bar


class Progress:
    """Seconds spent per named stage; prints a line per finished stage and a frame bar
    on stderr unless quiet.

    The set-up stages' lines are held until the first bar starts (or `show`): a bad input
    found during set-up (a faceless photo, an unreadable audio file) then fails with its
    one error line, not behind the lines of the stages that passed."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.seconds: dict[str, float] = defaultdict(float)
        self.start = time.perf_counter()
        self._held: list[str] | None = []  # None once the held lines have been printed
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
        self.seconds[name] += dt
        self._print(name, dt)

    def add(self, name: str, seconds: float) -> None:
        """Account time measured elsewhere (per batch in the frame workers, or in the
        encoder thread)."""
        with self._lock:
            self.seconds[name] += seconds

    def show(self, *names: str) -> None:
        """Print the totals of stages accounted with `add` (those that ran)."""
        self._release()
        for name in names:
            if name in self.seconds:
                self._print(name, self.seconds[name])

    def _print(self, name: str, seconds: float) -> None:
        if self.quiet:
            return
        line = f"  {name:<10} {seconds:7.2f} s"
        if self._held is not None:
            self._held.append(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _release(self) -> None:
        if self._held:
            print("\n".join(self._held), file=sys.stderr, flush=True)
        self._held = None

    def bar(self, total: int, desc: str = "frames"):
        self._release()
        return progress_bar(total, f"  {desc}", "frame", disable=self.quiet, leave=False)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
