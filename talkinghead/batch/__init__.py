"""`talkinghead batch`: many renders from one manifest, resumable, on a pool of local worker
processes or as Ray tasks on a cluster (docs/batch.md).

    manifest.py  the jobs: rows -> BatchJob (render's own option declarations), or errors
    ledger.py    what is done: input hashes, job keys, OUTDIR/ledger.jsonl, the lock
    worker.py    one job in a worker process: models and the photo kept between jobs
    local.py     the pool of local worker processes
    cluster.py   the same jobs as Ray tasks
    run.py       the driver: decide what to skip, dispatch, record, report
"""

from talkinghead.batch.run import BatchOptions, run_batch

__all__ = ["BatchOptions", "run_batch"]
