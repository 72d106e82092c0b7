"""The RQ worker class of `addin-server worker`: RQ's SimpleWorker (jobs run in the worker
process, no fork per job), with its worker-level bookkeeping batched.

RQ sends a worker heartbeat (HSET and two EXPIREs, one round trip each) twice around every
dequeue and checks for `rq suspend` before each job. Measured on a no-op job, that was about a
quarter of RQ's own cost per job. The heartbeat only keeps the worker's key alive for
`worker_ttl` + 60 s (480 s by default), and a suspension only has to be seen soon, so both are
done at most once a second here, the heartbeat in one pipelined round trip. Job-level
bookkeeping (the job's own heartbeat, registries, results) is RQ's, unchanged.

The worker holds a lease (addin_server/jobs.py), renewed from a thread and set again in the
pipeline in which RQ marks each job started: a worker killed mid-job stops renewing, and the
next enqueue of that job's fixed id finds it dead within JOB_LEASE_SECONDS and frees the id.
"""

from __future__ import annotations

import time
from typing import Any

from rq import SimpleWorker

from addin_server.config import Settings
from addin_server.jobs import LeaseHolder

# Far below the worker key's TTL (worker_ttl + 60 s): a skipped heartbeat never lets it lapse.
HEARTBEAT_EVERY = 1.0
SUSPENSION_CHECK_EVERY = 1.0


class SendWorker(SimpleWorker):
    _last_beat = float("-inf")
    _last_suspension_check = float("-inf")
    _lease: LeaseHolder | None = None

    def lease(self) -> LeaseHolder:
        if self._lease is None:
            # JOB_LEASE_SECONDS from the environment, as the worker command reads it.
            self._lease = LeaseHolder(self.connection, self.name,
                                      Settings.from_env().job_lease_seconds)
        return self._lease

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # part of one of RQ's own pipelines: no round trip of its own
            super().heartbeat(timeout, pipeline=pipeline)
            # RQ's pipeline that marks a job started beats too: the lease is held before any
            # job of this worker is seen started.
            self.lease().renew(pipeline)
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

    def register_birth(self, *args: Any, **kwargs: Any) -> None:
        super().register_birth(*args, **kwargs)
        self.lease().renew()

    def register_death(self, *args: Any, **kwargs: Any) -> None:
        if self._lease is not None:
            self._lease.stop()
        super().register_death(*args, **kwargs)
