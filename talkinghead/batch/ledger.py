"""What a batch has done, kept in OUTDIR: `ledger.jsonl` (one JSON object per job attempt,
appended as each ends) and the lock that keeps a second batch out of the folder.

A job is known by its key: the SHA-256 of its inputs' contents, its options and its output
name. A rerun skips a job whose key has a `done` attempt and whose output is there, and
runs everything else: new jobs, changed ones, failed ones.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import os
from pathlib import Path

from talkinghead.batch.manifest import BatchJob
from talkinghead.errors import UserError

LEDGER = "ledger.jsonl"
LOCK = ".batch.lock"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_hashes(job: BatchJob, known: dict[Path, str | None]) -> dict[str, str | None]:
    """Each input's SHA-256, None where it cannot be read (the job will fail and say why).
    `known` holds the files hashed so far: a presenter's photo shared by many jobs is read
    once."""
    for path in job.inputs.values():
        if path not in known:
            try:
                known[path] = file_sha256(path)
            except OSError:
                known[path] = None
    return {name: known[path] for name, path in job.inputs.items()}


def options_record(job: BatchJob) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(job.options), default=str))


def job_key(job: BatchJob, hashes: dict[str, str | None]) -> str:
    text = json.dumps({"inputs": hashes, "options": options_record(job), "output": job.output}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read_ledger(outdir: Path) -> list[dict]:
    path = outdir / LEDGER
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash while it was written
    return entries


def done_keys(outdir: Path) -> set[str]:
    """Keys of jobs whose last attempt is done and whose output is still there."""
    last = {}
    for entry in read_ledger(outdir):
        last[entry["key"]] = entry
    return {k for k, e in last.items() if e["status"] == "done" and (outdir / e["output"]).is_file()}


def append(outdir: Path, entry: dict) -> None:
    """One attempt, written whole and flushed to disk before the next."""
    with open(outdir / LEDGER, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


class Lock:
    """An exclusive lock on OUTDIR (flock: the kernel drops it when the holder dies)."""

    def __init__(self, outdir: Path) -> None:
        self.path = outdir / LOCK
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self._fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise UserError(f"another batch is running in {self.path.parent}") from None
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def remove_partial(outdir: Path, jobs: list[BatchJob]) -> int:
    """Remove what a killed render left: the hidden temp file beside each output (its
    `.<stem>.<random><suffix>` name, see actionunits.atomic.temp_beside); returns how many."""
    n = 0
    for job in jobs:
        target = outdir / job.output
        for tmp in target.parent.glob(f".{target.stem}.*{target.suffix}"):
            tmp.unlink(missing_ok=True)
            n += 1
    return n
