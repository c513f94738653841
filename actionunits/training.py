"""What every trainer shares (GATH, the AU estimator, audio2au), so they stop, log and
resume the same way:

    with TrainLoop(run_dir, steps, start, "gath", checkpoint_every, save, main) as loop:
        for step in loop:                     # stops at `steps` or on Ctrl+C / SIGTERM
            ...one optimisation step...
            loop.log(step, {"g/rec": 0.1})    # TensorBoard + metrics.jsonl + the progress line

A checkpoint is saved every `checkpoint_every` steps, when stopped, and at the end, so a
kill loses at most a few minutes and `resume=true` continues exactly (the trainer puts the
RNG state from `rng_state()` into its checkpoint and restores it with `set_rng_state`).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from actionunits.progress import progress_bar


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step, so the run saves
    a checkpoint and exits instead of dying mid-write. Handlers are restored on exit."""

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        self.stop = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class RunLog:
    """Scalars to TensorBoard (run_dir/tb) and to run_dir/metrics.jsonl (one JSON object per
    logged step, appended across resumes), images to TensorBoard. Silent when not `active`
    (ranks other than the main one)."""

    def __init__(self, run_dir: Path, active: bool = True) -> None:
        self.active = active
        if active:
            from torch.utils.tensorboard import SummaryWriter

            run_dir.mkdir(parents=True, exist_ok=True)
            self.tb = SummaryWriter(str(run_dir / "tb"))
            self.jsonl = open(run_dir / "metrics.jsonl", "a")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.active:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)
            self.jsonl.write(json.dumps({"step": step, **values}) + "\n")
            self.jsonl.flush()

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        if self.active:
            self.tb.add_image(tag, image, step)

    def figure(self, tag: str, figure, step: int) -> None:  # noqa: ANN001 - a matplotlib figure
        if self.active:
            self.tb.add_figure(tag, figure, step)

    def close(self) -> None:
        if self.active:
            self.tb.close()
            self.jsonl.close()


class TrainLoop:
    """Steps `start+1 .. steps` (or until a stop signal), with a progress line, the run log
    and checkpoints (`save()` every `checkpoint_every` steps, on stop and at the end)."""

    def __init__(
        self,
        run_dir: Path,
        steps: int,
        start: int,
        name: str,
        checkpoint_every: int,
        save: Callable[[int], None],
        main: bool = True,
    ) -> None:
        self.steps, self.step, self.name = int(steps), int(start), name
        self.checkpoint_every, self.save, self.main = int(checkpoint_every), save, main
        self.log_to = RunLog(run_dir, main)
        self.bar = progress_bar(steps, name, "step", disable=not main, initial=start)
        self._stop = StopFlag()

    @property
    def finished(self) -> bool:
        return self.step >= self.steps

    def __iter__(self) -> Iterator[int]:
        while self.step < self.steps and not self._stop.stop:
            self.step += 1
            yield self.step
            self.bar.update(1)
            if self.step % self.checkpoint_every == 0:
                self.save(self.step)

    def log(self, step: int, values: dict[str, float], show: dict[str, float] | None = None) -> None:
        """Record scalars; `show` (default: the same values) goes on the progress line."""
        self.log_to.scalars(step, values)
        self.bar.set_postfix({k.split("/")[-1]: f"{v:.4g}" for k, v in (show or values).items()})

    def __enter__(self) -> TrainLoop:
        self._stop.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.__exit__(*exc)
        self.bar.close()
        if exc[0] is None:
            self.save(self.step)
        self.log_to.close()

    def done_words(self) -> str:
        return "" if self.finished else " (stopped early: resume=true continues)"


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
