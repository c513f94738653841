"""The batch on a Ray cluster: one actor per CPU of the cluster, each a worker as worker.py
has it (models loaded once per actor, a photo set up once while its jobs last). Jobs are
grouped by photo: an idle actor takes the next job of its photo, else a photo no actor has
started, else it helps with the photo that has the most jobs left.

Shared filesystem or not is decided per actor as it starts. The driver writes a random
token into a hidden file in OUTDIR and hashes the first input it can read; the actor shares
the driver's files when it reads both at the same paths with the same SHA-256 (OUTDIR as
well as the inputs: a node that sees the data but not OUTDIR would write its videos where
the driver never looks). A sharing actor reads the inputs in place and renders into OUTDIR
as a local worker does (a temp file beside the output, renamed when complete). Otherwise the
driver `ray.put`s each input's bytes once, the actor copies them into its temp folder (once
per file), renders there and returns the video's bytes, and the driver writes them into
OUTDIR atomically. Either way an output gets the name it gets without Ray, and an error
names the driver's paths.

An actor whose process dies fails the job it held, and a new actor takes its place. Ray
reports starts and ends, not frames. Closing the generator (Ctrl+C) cancels the renders in
hand (each stops at its next frames and removes its temp file) and kills the actors that
have not stopped within CANCEL_WAIT_S.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import ray

from actionunits.atomic import atomic_output
from talkinghead.batch.ledger import file_sha256
from talkinghead.batch.manifest import BatchJob
from talkinghead.batch.worker import run_job
from talkinghead.commands.render import Kept
from talkinghead.errors import UserError

CANCEL_WAIT_S = 5.0  # how long renders get to stop on close() before their actors are killed

Probe = list[tuple[str, str]]  # (path, SHA-256) of files an actor must see to share the driver's
File = tuple[int, str, "ray.ObjectRef | None"]  # an input sent by value: its number, path, bytes


def _sees(probe: Probe) -> bool:
    try:
        return all(file_sha256(Path(path)) == sha for path, sha in probe)
    except OSError:
        return False


def _stop_if_cancelled(done: int, total: int) -> None:
    """A render's on_frames in an actor: close() cancels the task, and the render unwinds
    as on Ctrl+C, removing its temp file."""
    if ray.get_runtime_context().is_canceled():
        raise KeyboardInterrupt


@ray.remote(num_cpus=1)
class _Worker:
    def __init__(self, probe: Probe) -> None:
        self.kept = Kept()
        self.shared = _sees(probe)
        self.tmp = None if self.shared else tempfile.TemporaryDirectory(prefix="talkinghead-batch-")

    def hello(self) -> tuple[bool, str]:
        return self.shared, f"{os.getpid()} on {ray.util.get_node_ip_address()}"

    def run(self, job: BatchJob, outdir: str, files: dict[str, File] | None) -> dict:
        """Render `job` into `outdir`, or, given its inputs' `files`, from copies in the
        temp folder, returning the video as result["video"]."""
        if files is None:
            return run_job(job, Path(outdir), self.kept, _stop_if_cancelled)
        tmp = Path(self.tmp.name)
        copies = {name: self._copy(*file) for name, file in files.items()}
        here = replace(job, output=Path(job.output).name, **copies)
        result = run_job(here, tmp, self.kept, _stop_if_cancelled)
        if result["status"] == "done":
            result["video"] = (tmp / here.output).read_bytes()
            (tmp / here.output).unlink()
        else:
            for name, copy in copies.items():
                result["error"] = result["error"].replace(str(copy), str(getattr(job, name)))
        return result

    def _copy(self, number: int, path: str, ref: ray.ObjectRef | None) -> Path:
        """The local copy of an input (none where the driver could not read it: the render
        then fails as it would have there)."""
        copy = Path(self.tmp.name) / str(number) / Path(path).name
        if ref is not None and not copy.exists():
            copy.parent.mkdir(exist_ok=True)
            with atomic_output(copy) as tmp:
                tmp.write_bytes(ray.get(ref))
        return copy


def _connect(address: str | None) -> None:
    """Join the cluster at `address` or $RAY_ADDRESS, else start a local one: quiet, no
    dashboard, no usage stats. A local one gets a token of its own (it listens on the
    network), not the one Ray would save in ~/.ray for every later cluster to pick up."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    elif re.fullmatch(r"[^/:]+:\d+", address):  # fail fast: Ray itself retries an unreachable one for minutes
        host, port = address.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as e:
            raise UserError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None
    local = {} if address else {"num_cpus": len(os.sched_getaffinity(0))}
    ray.init(address or "local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, **local)


def _probe(jobs: list[BatchJob], token: Path) -> Probe:
    """The token file, and the first input the driver can read."""
    probe = [(str(token), file_sha256(token))]
    for path in (p for job in jobs for p in job.inputs.values()):
        try:
            return [*probe, (str(path), file_sha256(path))]
        except OSError:
            continue
    return probe


def _take(groups: list[deque[int]], mine: list[deque[int] | None], slot: int) -> int | None:
    """The next job for an idle actor: its photo's next, else the first photo no actor has,
    else one of the photo with the most jobs left."""
    if not mine[slot]:
        free = [g for g in groups if g and all(g is not m for m in mine)]
        mine[slot] = free[0] if free else max(groups, key=len)
    return mine[slot].popleft() if mine[slot] else None


def run_ray(
    jobs: list[BatchJob], outdir: Path, address: str | None, on_event: Callable[[str, int, object], None]
) -> Iterator[tuple[int, dict]]:
    """Run `jobs` on Ray actors; yields (job index, result) as each ends, and tells
    `on_event(kind, index, value)` of starts. Shuts down only a cluster it started."""
    outdir = Path(outdir).resolve()
    owned = not ray.is_initialized()
    if owned:
        _connect(address)
    fd, token = tempfile.mkstemp(dir=outdir, prefix=".ray-probe.")
    os.write(fd, secrets.token_bytes(32))
    os.close(fd)
    try:
        yield from _run(jobs, outdir, _probe(jobs, Path(token)), on_event)
    finally:
        Path(token).unlink(missing_ok=True)
        if owned:
            ray.shutdown()


def _run(
    jobs: list[BatchJob], outdir: Path, probe: Probe, on_event: Callable[[str, int, object], None]
) -> Iterator[tuple[int, dict]]:
    by_photo: dict[Path, deque[int]] = {}
    for i, job in enumerate(jobs):
        by_photo.setdefault(job.photo, deque()).append(i)
    groups = list(by_photo.values())
    n = max(1, min(len(jobs), int(ray.cluster_resources().get("CPU", 1))))
    actors, shared, names = [None] * n, [False] * n, [""] * n
    mine: list[deque[int] | None] = [None] * n  # the photo's jobs each actor works on
    running: dict[ray.ObjectRef, tuple[int, int | None]] = {}  # a call -> (its actor, its job; None: hello)
    sent: dict[Path, File] = {}

    def start(slot: int) -> None:
        actors[slot] = _Worker.remote(probe)
        running[actors[slot].hello.remote()] = (slot, None)

    def send(path: Path) -> File:
        if path not in sent:
            try:
                ref = ray.put(path.read_bytes())
            except OSError:
                ref = None
            sent[path] = (len(sent), str(path), ref)
        return sent[path]

    def give(slot: int) -> None:
        index = _take(groups, mine, slot)
        if index is not None:
            files = None if shared[slot] else {k: send(p) for k, p in jobs[index].inputs.items()}
            running[actors[slot].run.remote(jobs[index], str(outdir), files)] = (slot, index)
            on_event("start", index, None)

    for slot in range(n):
        start(slot)
    left = len(jobs)
    try:
        while left:
            [ref], _ = ray.wait(list(running))
            slot, index = running.pop(ref)
            try:
                answer = ray.get(ref)
            except ray.exceptions.RayError as e:  # the actor is dead, or may be: replace it
                if index is None:
                    raise UserError(f"a Ray worker could not start: {str(e).strip().splitlines()[-1]}") from None
                answer = {"status": "failed", "error": _why(e, names[slot])}
                ray.kill(actors[slot])
                start(slot)  # its replacement's hello brings it work
            else:
                if index is None:
                    shared[slot], names[slot] = answer
                give(slot)
            if index is not None:
                left -= 1
                yield index, _land(answer, outdir / jobs[index].output)
    finally:
        for ref in running:
            ray.cancel(ref)
        if running:
            _, stuck = ray.wait(list(running), num_returns=len(running), timeout=CANCEL_WAIT_S)
            for ref in stuck:
                ray.kill(actors[running[ref][0]])


def _why(e: ray.exceptions.RayError, worker: str) -> str:
    """A failed call in one line."""
    if isinstance(e, ray.exceptions.RayTaskError):  # raised around the render (an input's copy)
        return f"{type(e.cause).__name__}: {e.cause}".split("\n")[0]
    return f"Ray worker {worker} died ({type(e).__name__})"  # kill -9, out of memory, its node lost


def _land(result: dict, target: Path) -> dict:
    """A result, its video (when sent by value) written to `target` atomically."""
    video = result.pop("video", None)
    if video is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            tmp.write_bytes(video)
    return result
