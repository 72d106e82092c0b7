"""addin_server/jobs.py against a real Redis and RQ: which job holding a fixed id is live, and
what an enqueue does with a dead one. (Workers killed by SIGKILL: tests/flows/
test_job_recovery.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from rq.job import Job

from addin_server.jobs import enqueue_unique, is_live, lease_key
from addin_server.workers.worker import SendWorker
from tests.conftest import REDIS_URL


@pytest.fixture
def queue() -> Iterator[Queue]:
    conn = redis.Redis.from_url(REDIS_URL)
    q = Queue(f"t-{uuid.uuid4().hex[:8]}", connection=conn)
    yield q
    q.empty()
    conn.close()


def take(queue: Queue, job_id: str) -> SendWorker:
    """A worker takes the job and marks it started (holding its lease), then (as if killed)
    does nothing more."""
    worker = SendWorker([queue], connection=queue.connection)
    worker.register_birth()
    job = Job.fetch(job_id, connection=queue.connection)
    worker.prepare_execution(job)  # its entry in the started registry
    worker.prepare_job_execution(job)
    queue.connection.lrem(queue.key, 0, job_id)
    return worker


def test_a_waiting_job_is_live_and_a_second_enqueue_is_dropped(queue: Queue) -> None:
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-1", 5)
    assert not enqueue_unique(queue, "builtins.len", ("ab",), "fixed-1", 5)
    assert queue.job_ids == ["fixed-1"]


def test_a_finished_job_kept_for_its_result_frees_its_id(queue: Queue) -> None:
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-2", 5, result_ttl=60)
    SendWorker([queue], connection=queue.connection).work(burst=True)
    assert Job.fetch("fixed-2", connection=queue.connection).get_status() == "finished"
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-2", 5, result_ttl=60)
    assert queue.job_ids == ["fixed-2"]


def test_a_started_job_is_live_while_its_worker_holds_its_lease(queue: Queue) -> None:
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-3", 5)
    worker = take(queue, "fixed-3")
    later = datetime.now(UTC) + timedelta(seconds=60)  # RQ's own job heartbeat is old by then
    assert 0 < queue.connection.pttl(lease_key(worker.name)) <= 60_000
    assert is_live(queue, "fixed-3", 5, later)
    assert not enqueue_unique(queue, "builtins.len", ("ab",), "fixed-3", 5)
    worker.lease().stop()  # as if killed: the lease lapses
    assert not is_live(queue, "fixed-3", 5, later)


def test_a_started_job_whose_lease_lapsed_is_dropped_and_enqueued_again(queue: Queue) -> None:
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-4", 1)
    worker = take(queue, "fixed-4")
    registry = queue.started_job_registry
    assert "fixed-4" in registry.get_job_ids()
    # Its worker died (no lease), and RQ's heartbeat is older than the lease: dead.
    worker.lease().stop()
    queue.connection.hset(Job.key_for("fixed-4"), "last_heartbeat",
                          (datetime.now(UTC) - timedelta(seconds=5)).isoformat())
    assert enqueue_unique(queue, "builtins.len", ("ab",), "fixed-4", 1)
    assert queue.job_ids == ["fixed-4"]
    assert "fixed-4" not in registry.get_job_ids(cleanup=False)
    SendWorker([queue], connection=queue.connection).work(burst=True)
    assert Job.fetch("fixed-4", connection=queue.connection).return_value() == 2


def test_a_worker_holds_its_lease_while_it_lives_and_lets_go_when_it_stops(
        queue: Queue) -> None:
    seen: list[int] = []

    class Probe(SendWorker):
        def perform_job(self, job, queue, execution):  # type: ignore[no-untyped-def]
            seen.append(self.connection.pttl(lease_key(self.name)))
            return super().perform_job(job, queue, execution)

    assert enqueue_unique(queue, "builtins.len", ("abc",), "fixed-5", 30, result_ttl=60)
    worker = Probe([queue], connection=queue.connection)
    worker.work(burst=True)
    assert seen and 0 < seen[0] <= 60_000
    assert not queue.connection.exists(lease_key(worker.name))  # let go at its death
