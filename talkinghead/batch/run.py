"""The batch driver: read the manifest (every error before anything renders), take OUTDIR's
lock, clear what killed renders left, decide what to skip (before any worker or model
starts), run the rest on the local pool or on Ray, append each attempt to the ledger as it
ends, and sum up."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from actionunits.progress import progress_bar
from talkinghead.batch import ledger
from talkinghead.batch.manifest import BatchJob, read_manifest
from talkinghead.errors import UserError


def default_workers() -> int:
    """One worker process per two cores: a render keeps about two busy (its frame threads
    and the encoder), so on 2 cores a second process adds nothing but a second copy of the
    models, and pinning each to one core halves the throughput (docs/batch.md)."""
    return max(1, len(os.sched_getaffinity(0)) // 2)


@dataclass
class BatchOptions:
    workers: int | None = None  # local worker processes (None: one per two cores)
    ray: bool = False
    ray_address: str | None = None  # None: $RAY_ADDRESS, else a local cluster
    quiet: bool = False


@dataclass
class BatchSummary:
    jobs: int
    done: int
    failed: int
    skipped: int
    not_run: int  # stopped (Ctrl+C) or lost before they started
    audio_seconds: float
    seconds: float
    ledger: str
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.not_run == 0 and not self.interrupted

    def line(self) -> str:
        rate = self.audio_seconds / max(self.seconds, 1e-9)
        text = (
            f"batch: {self.done} done, {self.failed} failed, {self.skipped} already done"
            + (f", {self.not_run} not run" if self.not_run else "")
            + f" of {self.jobs} jobs; {self.audio_seconds:.1f} s of audio in {self.seconds:.1f} s"
            + f" ({rate:.2f} audio-s/s); ledger {self.ledger}"
        )
        return text + ("; interrupted" if self.interrupted else "")


def run_batch(manifest: str | Path, outdir: str | Path, options: BatchOptions) -> BatchSummary:
    t0 = time.perf_counter()
    outdir = Path(outdir)
    jobs = read_manifest(manifest, outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with ledger.Lock(outdir):
        ledger.remove_partial(outdir, jobs)
        known: dict[Path, str | None] = {}
        hashes = [ledger.input_hashes(j, known) for j in jobs]
        keys = [ledger.job_key(j, h) for j, h in zip(jobs, hashes)]
        done = ledger.done_keys(outdir)
        todo = [i for i, k in enumerate(keys) if k not in done]
        summary = BatchSummary(len(jobs), 0, 0, len(jobs) - len(todo), 0, 0.0, 0.0, str(outdir / ledger.LEDGER))
        if todo:
            _dispatch(jobs, hashes, keys, todo, outdir, options, summary)
        ledger.remove_partial(outdir, jobs)
    summary.seconds = time.perf_counter() - t0
    return summary


def _dispatch(
    jobs: list[BatchJob],
    hashes: list[dict],
    keys: list[str],
    todo: list[int],
    outdir: Path,
    options: BatchOptions,
    summary: BatchSummary,
) -> None:
    """Run the jobs in `todo` and record each attempt; Ctrl+C stops the batch with every
    finished job recorded."""
    chosen = [jobs[i] for i in todo]
    started: dict[int, float] = {}
    bar = progress_bar(len(chosen), "  jobs", "job", disable=options.quiet)

    def on_event(kind: str, index: int, value: object) -> None:
        if kind == "start":
            started[index] = time.time()
        elif kind == "frames" and value[1]:
            bar.set_postfix(
                failed=summary.failed,
                audio_s=f"{summary.audio_seconds:.0f}",
                job=f"{chosen[index].output} {100 * value[0] / value[1]:.0f}%",
            )
            bar.update(0)  # off a terminal: a line when one is due, also within a long job

    if options.ray:
        try:
            from talkinghead.batch.cluster import run_ray
        except ModuleNotFoundError as e:
            raise UserError(f"--ray needs Ray ({e}): pip install '.[cluster]'") from None

        results = run_ray(chosen, outdir, options.ray_address, on_event)
    else:
        from talkinghead.batch.local import run_local

        results = run_local(chosen, outdir, options.workers or default_workers(), on_event)
    ended = set()
    try:
        with bar:
            for index, result in results:
                i = todo[index]
                ended.add(index)
                job = jobs[i]
                entry = {
                    "line": job.line,
                    "row": job.row,
                    "output": job.output,
                    "key": keys[i],
                    "inputs": {k: {"path": str(p), "sha256": hashes[i][k]} for k, p in job.inputs.items()},
                    "options": ledger.options_record(job),
                    "started": started.get(index),
                    **result,
                }
                ledger.append(outdir, entry)
                if result["status"] == "done":
                    summary.done += 1
                    summary.audio_seconds += result.get("audio_seconds", 0.0)
                else:
                    summary.failed += 1
                    if not options.quiet:
                        print(f"  line {job.line}: {job.output}: {result['error']}", file=sys.stderr, flush=True)
                bar.set_postfix(failed=summary.failed, audio_s=f"{summary.audio_seconds:.0f}")
                bar.update(1)
    except KeyboardInterrupt:
        summary.interrupted = True
        results.close()  # stops the workers; a render in hand removes its temp file
    summary.not_run = len(todo) - len(ended)


def summary_json(summary: BatchSummary) -> str:
    return json.dumps({**summary.__dict__, "ok": summary.ok}, sort_keys=True)
