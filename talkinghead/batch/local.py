"""The local pool: worker processes (spawned, so each loads torch and the models itself)
that take jobs from one queue in manifest order, photo by photo, and keep each photo set up
while its jobs last. A worker that dies (kill -9, out of memory) fails the job it held;
a new worker takes its place and the rest go on."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from talkinghead.batch.manifest import BatchJob

PROGRESS_EVERY_S = 1.0  # a worker reports frames within a job at most this often


def _worker(tasks: mp.Queue, results: mp.Queue, outdir: Path) -> None:
    """Take (index, job) until the None that ends the queue. Ctrl+C is the driver's to
    handle; SIGTERM (the driver stopping the batch) ends the render in hand, which removes
    its temp file."""
    from talkinghead.batch.worker import run_job
    from talkinghead.commands.render import Kept

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    kept, pid = Kept(), os.getpid()
    while (task := tasks.get()) is not None:
        index, job = task
        results.put(("start", pid, index, None))
        last = [0.0]

        def report(done: int, total: int, index: int = index) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                results.put(("frames", pid, index, (done, total)))

        try:
            result = run_job(job, outdir, kept, report)
        except KeyboardInterrupt:
            return
        results.put(("end", pid, index, result))


def run_local(
    jobs: list[BatchJob], outdir: Path, workers: int, on_event: Callable[[str, int, object], None]
) -> Iterator[tuple[int, dict]]:
    """Run `jobs` on `workers` processes; yields (job index, result) as each ends, and tells
    `on_event(kind, index, value)` of starts and frame progress."""
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for task in enumerate(jobs):
        tasks.put(task)
    n = max(1, min(workers, len(jobs)))
    for _ in range(n):
        tasks.put(None)
    procs: dict[int, mp.Process] = {}
    holding: dict[int, int] = {}  # worker pid -> the job index it is rendering

    def start() -> None:
        p = ctx.Process(target=_worker, args=(tasks, results, outdir), daemon=True)
        p.start()
        procs[p.pid] = p

    for _ in range(n):
        start()
    left = len(jobs)
    try:
        while left:
            try:
                kind, pid, index, value = results.get(timeout=0.5)
            except queue.Empty:
                for pid, p in list(procs.items()):
                    if p.is_alive():
                        continue
                    del procs[pid]
                    if pid in holding:
                        code = -p.exitcode if p.exitcode and p.exitcode < 0 else p.exitcode
                        why = signal.Signals(code).name if p.exitcode and p.exitcode < 0 else f"exit code {code}"
                        left -= 1
                        yield holding.pop(pid), {"status": "failed", "error": f"worker {pid} died ({why})"}
                        start()  # its replacement takes the rest of the queue
                if not procs:
                    break
                continue
            if kind == "start":
                holding[pid] = index
            elif kind == "end":
                holding.pop(pid, None)
                left -= 1
                yield index, value
            on_event(kind, index, value)
    finally:
        for p in procs.values():
            if left:  # stopped early: SIGTERM ends a render in hand, which removes its temp file
                p.terminate()
            p.join(10)  # done: each worker has its None and ends by itself
            if p.is_alive():
                p.kill()
