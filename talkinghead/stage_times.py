"""Stage timing and progress display for the offline commands (render, reenact, edit).

The same numbers feed the user's progress lines, the summary's real-time factor and the
benchmark's per-stage table, so what the benchmark reports is what users see.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from actionunits.progress import progress_bar


class Progress:
    """Seconds spent per named stage; prints a line per finished stage and a frame bar
    on stderr unless quiet.

    The set-up stages' lines are held until the first bar starts (or `show`): a bad input
    found during set-up (a faceless photo, an unreadable audio file) then fails with its
    one error line, not behind the lines of the stages that passed."""

    def __init__(self, quiet: bool = False, on_frames: Callable[[int, int], None] | None = None) -> None:
        self.quiet = quiet
        self.on_frames = on_frames  # told (frames done, total) as the frame bar moves (the app's progress)
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

    def show(self, *names: str, note: str = "") -> None:
        """Print the totals of stages accounted with `add` (those that ran), each with `note`."""
        self._release()
        for name in names:
            if name in self.seconds:
                self._print(name, self.seconds[name], note)

    def _print(self, name: str, seconds: float, note: str = "") -> None:
        if self.quiet:
            return
        line = f"  {name:<10} {seconds:7.2f} s" + (f" ({note})" if note else "")
        if self._held is not None:
            self._held.append(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _release(self) -> None:
        if self._held:
            print("\n".join(self._held), file=sys.stderr, flush=True)
        self._held = None

    def bar(self, total: int, desc: str = "frames", unit: str = "frame"):
        self._release()
        bar = progress_bar(total, f"  {desc}", unit, disable=self.quiet, leave=False)
        return bar if self.on_frames is None else _Reported(bar, total, self.on_frames)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class _Reported:
    """A progress bar whose updates are also reported to a callback."""

    def __init__(self, bar, total: int, report: Callable[[int, int], None]) -> None:
        self.bar, self.total, self.report, self.done = bar, total, report, 0

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        self.done += n
        self.report(self.done, self.total)

    def __enter__(self) -> _Reported:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)
