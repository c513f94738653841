"""One job, as a worker process runs it: `render` with the models and the last photo kept
between jobs (commands.render.Kept), its output written atomically in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from talkinghead.batch.manifest import BatchJob
from talkinghead.commands.render import Kept, render
from talkinghead.errors import UserError


def run_job(job: BatchJob, outdir: Path, kept: Kept, on_frames: Callable[[int, int], None] | None = None) -> dict:
    """Render `job` into `outdir`; the attempt's result: status, seconds, frames, the
    audio seconds rendered and, for a failure, its one-line error. Bad input is a
    failure of this job, never of the worker."""
    t0 = time.perf_counter()
    target = outdir / job.output
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = render(job.photo, job.audio, target, job.options, job.au_csv, on_frames=on_frames, kept=kept)
    except UserError as e:
        return {"status": "failed", "seconds": time.perf_counter() - t0, "error": str(e).splitlines()[0]}
    except Exception as e:  # noqa: BLE001 - one job's crash is recorded; the batch goes on
        return {"status": "failed", "seconds": time.perf_counter() - t0, "error": f"{type(e).__name__}: {e}"}
    return {
        "status": "done",
        "seconds": time.perf_counter() - t0,
        "frames": result.frames,
        "audio_seconds": result.media_seconds,
    }
