"""The worker class of `addin-server worker` (addin_server/workers/worker.py) against a real Redis:
it still runs jobs, honours `rq suspend`, and keeps its key alive while beating at most once
a second."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from rq import Queue
from rq.suspension import resume, suspend

from addin_server.workers.worker import SendWorker
from tests.conftest import REDIS_URL


@pytest.fixture
def conn() -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(REDIS_URL)
    yield r
    resume(r)
    r.close()


def test_runs_jobs_and_keeps_finished_ones_for_their_result_ttl(conn: redis.Redis) -> None:
    queue = Queue(f"t-{uuid.uuid4().hex[:8]}", connection=conn)
    jobs = [queue.enqueue("builtins.len", "abc", job_id=f"w-{uuid.uuid4().hex}", unique=True,
                          result_ttl=30) for _ in range(3)]
    SendWorker([queue], connection=conn).work(burst=True)
    for job in jobs:
        job.refresh()
        assert job.get_status() == "finished"
        assert job.return_value() == 3
        assert 0 < conn.ttl(job.key) <= 30


def test_a_suspended_worker_runs_nothing_until_resumed(conn: redis.Redis) -> None:
    queue = Queue(f"t-{uuid.uuid4().hex[:8]}", connection=conn)
    job = queue.enqueue("builtins.len", "ab", job_id=f"w-{uuid.uuid4().hex}", result_ttl=30)
    suspend(conn)
    SendWorker([queue], connection=conn).work(burst=True)
    assert job.get_status(refresh=True) == "queued"
    resume(conn)
    SendWorker([queue], connection=conn).work(burst=True)
    assert job.get_status(refresh=True) == "finished"


def test_heartbeat_is_one_round_trip_at_most_once_a_second(conn: redis.Redis) -> None:
    queue = Queue(f"t-{uuid.uuid4().hex[:8]}", connection=conn)
    worker = SendWorker([queue], connection=conn)
    worker.register_birth()
    try:
        worker.heartbeat()
        full = conn.ttl(worker.key)
        assert full > 400  # worker_ttl + 60
        assert conn.hget(worker.key, "last_heartbeat")
        conn.expire(worker.key, 50)
        worker.heartbeat()  # within the second: skipped
        assert conn.ttl(worker.key) <= 50
        worker.heartbeat(timeout=600)  # an explicit timeout always goes out
        assert conn.ttl(worker.key) > 500
        conn.expire(worker.key, 50)
        worker._last_beat -= 2  # a second later
        worker.heartbeat()
        assert conn.ttl(worker.key) > 400
    finally:
        worker.register_death()
