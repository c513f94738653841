"""Progress bars that suit where the output goes: a live tqdm bar on a terminal, and plain
periodic lines when stderr is a file or a pipe (CI logs, nohup, a test's capture), where a
bar's carriage-return redraws would flood the log with thousands of partial lines.
Shared by every room's long loops (training, preparing, rendering, evaluating)."""

from __future__ import annotations

import sys
import time
from typing import Any

PLAIN_EVERY_S = 30.0  # a plain line at most this often (and once at the end)


class PlainProgress:
    """tqdm's interface as used here (update, set_postfix, close, context manager), as
    lines like `frames: 1200/4500 (27%), 88.1/s, loss=0.031`."""

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        every_s: float = PLAIN_EVERY_S,
        file=None,
    ) -> None:
        self.total, self.desc, self.unit, self.n = total, desc.strip(), unit, initial
        self.every_s, self.file = every_s, file or sys.stderr
        self._start = self._last = time.monotonic()
        self._start_n = initial
        self._postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= self.every_s:
            self._line()

    def set_postfix(self, ordered_dict: dict | None = None, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self._postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def close(self) -> None:
        if self.n > self._start_n:
            self._line()
        self._start_n = self.n  # closing twice prints once

    def _line(self) -> None:
        self._last = time.monotonic()
        rate = (self.n - self._start_n) / max(self._last - self._start, 1e-9)
        done = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f}%)" if self.total else f"{self.n}"
        if self.total and 0 < rate and self.n < self.total:
            done += f", ETA {int((self.total - self.n) / rate)} s"
        extra = f", {self._postfix}" if self._postfix else ""
        print(
            f"{self.desc + ': ' if self.desc else ''}{done}, {rate:.1f} {self.unit}/s{extra}",
            file=self.file,
            flush=True,
        )

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Off(PlainProgress):
    """A disabled bar: counts, prints nothing."""

    def _line(self) -> None:
        pass


def progress_bar(
    total: int | None, desc: str = "", unit: str = "it", disable: bool = False, initial: int = 0, leave: bool = True
):
    """A tqdm bar on a terminal, PlainProgress lines elsewhere, nothing when disabled."""
    if disable:
        return _Off(total, desc, unit, initial)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(
            total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, leave=leave, dynamic_ncols=True
        )
    return PlainProgress(total, desc, unit, initial)
