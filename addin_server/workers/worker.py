"""The RQ worker class of `addin-server worker`: RQ's SimpleWorker (jobs run in the worker
process, no fork per job), with its worker-level bookkeeping batched.

RQ sends a worker heartbeat (HSET and two EXPIREs, one round trip each) twice around every
dequeue and checks for `rq suspend` before each job. Measured on a no-op job, that was about a
quarter of RQ's own cost per job. The heartbeat only keeps the worker's key alive for
`worker_ttl` + 60 s (480 s by default), and a suspension only has to be seen soon, so both are
done at most once a second here, the heartbeat in one pipelined round trip. Job-level
bookkeeping (the job's own heartbeat, registries, results) is RQ's, unchanged.

A job enqueued with a lease (every fixed-id job: addin_server/jobs.py) runs while this worker
holds its lease key, renewed from a thread; a worker killed mid-job stops renewing, and the
next enqueue of that id finds the job dead within its lease and frees the id.
"""

from __future__ import annotations

import time
from typing import Any

from rq import Queue, SimpleWorker
from rq.job import Job

from addin_server.jobs import holding_lease

# Far below the worker key's TTL (worker_ttl + 60 s): a skipped heartbeat never lets it lapse.
HEARTBEAT_EVERY = 1.0
SUSPENSION_CHECK_EVERY = 1.0


class SendWorker(SimpleWorker):
    _last_beat = float("-inf")
    _last_suspension_check = float("-inf")

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # part of one of RQ's own pipelines: no round trip of its own
            super().heartbeat(timeout, pipeline=pipeline)
            return
        clock = time.monotonic()
        if timeout is None and clock - self._last_beat < HEARTBEAT_EVERY:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()
        self._last_beat = clock

    def check_for_suspension(self, burst: bool) -> None:
        clock = time.monotonic()
        if clock - self._last_suspension_check < SUSPENSION_CHECK_EVERY:
            return
        self._last_suspension_check = clock
        super().check_for_suspension(burst)

    def execute_job(self, job: Job, queue: Queue) -> None:
        lease = (job.meta or {}).get("lease")
        if not lease:
            super().execute_job(job, queue)
            return
        # Taken before RQ marks the job started, so a started job always has its lease.
        with holding_lease(self.connection, job.id, float(lease), self.name):
            super().execute_job(job, queue)
