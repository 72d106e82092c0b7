"""Proof that a send happens once and is never lost: real `rq worker` subprocesses
(`addin-server worker`), a real Redis, both databases, and the fault-injecting provider on
127.0.0.1 that counts every message it accepts by send id.

The dispatcher runs in the test process. Its clock is the real one, except for "recovery"
passes when nothing has moved for a while: then it runs with `now` pushed past the lease, the
grace period and the requeue threshold (time injected, never slept on). The due times are in
the past, so the workers' real clocks find every send due.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from addin_server.config import Settings
from addin_server.models import Send, SendLog, SentMessage
from addin_server.runtime import Runtime
from addin_server.sending import dispatcher as dispatch
from tests.conftest import Actor
from tests.fakes.provider import FakeProviderServer
from tests.support.sending import launch, make_campaign, people, states
from tests.support.workers import Workers, worker_env

pytestmark = pytest.mark.slow

# 1,000 sends on PostgreSQL. On SQLite 300: every writer there holds the one database lock in
# turn (BEGIN IMMEDIATE), so the run is slower for no extra proof; the faults hit the same
# code paths at the same rates.
N_BY_BACKEND = {"postgresql": 1000, "sqlite": 300}
DEADLINE = float(os.environ.get("PROOF_DEADLINE", 400))


@pytest.fixture
def n(database_url: str) -> int:
    return N_BY_BACKEND["sqlite" if database_url.startswith("sqlite") else "postgresql"]


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeProviderServer) -> Settings:
    return settings.with_(queue_name=f"proof-{uuid.uuid4().hex[:8]}",
                          mailbox_factory="tests.fakes.provider:open_fake",
                          extra={"fake_provider_url": fake.url},
                          dispatch_batch_size=100)


@pytest.fixture
def workers(settings: Settings, fake: FakeProviderServer, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(worker_env(
        settings, MAILBOX_FACTORY="tests.fakes.provider:open_fake", FAKE_PROVIDER_URL=fake.url,
        # Retries of transient errors come quickly here; the rules are tested elsewhere.
        SEND_RETRY_BASE_SECONDS="0.05", SEND_RETRY_MAX_SECONDS="0.5", SEND_MAX_ATTEMPTS="50",
    ), tmp_path)
    yield w
    w.stop()
    from rq import Queue

    Queue(settings.queue_name, connection=Runtime.from_settings(settings).redis()).empty()


def stats(fake: FakeProviderServer) -> dict[str, Any]:
    return dict(requests.get(fake.url + "/_stats", timeout=5).json())


def due_sends(rep: Actor, n: int) -> None:
    """n people launched on a one-email campaign; their sends are due (in the past)."""
    cid = make_campaign(rep)
    launch(rep, cid, people(n))


def drive(settings: Settings, n: int, during: Callable[[int], None] | None = None) -> Runtime:
    """Run the dispatcher until all n sends are sent (or the deadline). `during(sent)` runs
    after each pass (the test's fault: a kill, a FLUSHDB).

    Passes use the real clock. When nothing has moved for a while, the rest waits on a lease,
    a grace period or a lost job: then the repairs (leases, reconciliation, lost jobs) run
    twice with `now` pushed past the lease, the grace period and the requeue threshold, each
    time further than before, so that what one stamped (a grace period) is due at the next.
    Normal passes stay on the real clock, so live workers' leases are not expired by them.
    """
    rt = Runtime.from_settings(settings)
    step = timedelta(seconds=settings.send_lease_seconds + settings.reconcile_grace_seconds
                     + settings.requeue_after_seconds + settings.send_job_timeout_seconds)
    end = time.monotonic() + DEADLINE
    last, still, recoveries = -1, 0, 0
    while time.monotonic() < end:
        dispatch.tick(rt, datetime.now(UTC))
        sent = states(rt).get("sent", 0)
        if sent == n:
            return rt
        if during is not None:
            during(sent)
        still = still + 1 if sent == last else 0
        last = sent
        if os.environ.get("PROOF_TRACE"):
            print(f"{time.monotonic():.1f} {dict(states(rt))}", flush=True)
        if still >= 8:
            for _ in range(2):
                recoveries += 1
                later = datetime.now(UTC) + recoveries * step
                # Only the repairs run at the pushed time; promoting (and the pacing that
                # comes with it) stays on the real clock that the workers share.
                dispatch.expire_leases(rt, later)
                dispatch.reconcile(rt, later)
                dispatch.requeue_lost(rt, later)
            still = 0
        time.sleep(0.1)
    with rt.sessions() as s:
        stuck = s.execute(select(Send.id, Send.state, Send.due_at, Send.reason)
                          .where(Send.state != "sent").limit(5)).all()
    raise AssertionError(f"not all sent by the deadline: {states(rt)}; {stuck}")


def assert_each_sent_once(rt: Runtime, fake: FakeProviderServer, n: int) -> None:
    with rt.sessions() as s:
        ids = sorted(str(i) for i in s.scalars(select(Send.id)))
        assert s.scalar(select(func.count()).select_from(SentMessage)) == n
    assert len(ids) == n
    accepted = stats(fake)["accepted"]
    assert sorted(accepted) == ids  # every send went out...
    assert set(accepted.values()) == {1}  # ...exactly once
    assert states(rt) == {"sent": n}


def test_kill_9_of_a_worker_in_the_middle_of_a_send(
    runtime: Runtime, rep: Actor, settings: Settings, fake: FakeProviderServer,
    workers: Workers, n: int,
) -> None:
    due_sends(rep, n)
    with runtime.sessions() as s:
        victim = sorted(s.scalars(select(Send.id)))[n // 2]
    # The provider holds the victim's send call open: the worker is killed inside it, and the
    # provider accepts the message afterwards (the worst case: sent, never recorded).
    requests.post(fake.url + "/_hold", json={"send_id": victim}, timeout=5)
    workers.start(2)
    killed: list[int] = []

    def kill_holder(sent: int) -> None:
        info = stats(fake)
        if killed or not info["held"]:
            return
        pid = int(info["held_pid"])
        assert pid in [p.pid for p in workers.procs]
        os.killpg(pid, signal.SIGKILL)  # the worker and its scheduler process
        killed.append(pid)
        next(p for p in workers.procs if p.pid == pid).wait(10)
        requests.post(fake.url + "/_release", timeout=5)
        workers.start(1)

    rt = drive(settings, n, kill_holder)
    assert killed, "the worker was never caught inside the held send"
    assert_each_sent_once(rt, fake, n)
    with rt.sessions() as s:
        notes = [(f, t, note) for f, t, note in s.execute(
            select(SendLog.from_state, SendLog.to_state, SendLog.note)
            .where(SendLog.send_id == victim).order_by(SendLog.id))]
    assert ("sending", "unknown", "lease expired (its worker is gone)") in notes
    assert ("unknown", "sent", "found in Sent items") in notes


def test_redis_flushed_in_the_middle(
    runtime: Runtime, rep: Actor, settings: Settings, fake: FakeProviderServer,
    workers: Workers, n: int,
) -> None:
    due_sends(rep, n)
    workers.start(2)
    flushed: list[int] = []

    def flush(sent: int) -> None:
        if not flushed and sent >= n // 3:
            # FLUSHDB, not FLUSHALL: this machine's Redis is shared; our database is all
            # the pipeline uses.
            runtime.redis().flushdb()
            flushed.append(sent)

    rt = drive(settings, n, flush)
    assert flushed and flushed[0] < n
    assert_each_sent_once(rt, fake, n)
    with rt.sessions() as s:
        requeued = s.scalar(select(func.count()).select_from(SendLog).where(
            SendLog.note == "its RQ job was gone: enqueued again"))
    assert requeued and requeued > 0


def test_thirty_percent_of_provider_calls_fail_some_after_acceptance(
    runtime: Runtime, rep: Actor, settings: Settings, fake: FakeProviderServer,
    workers: Workers, n: int,
) -> None:
    due_sends(rep, n)
    requests.post(fake.url + "/_faults", json={"rate": 0.3, "after_share": 0.5,
                                               "max_per_send": 4}, timeout=5)
    workers.start(2)
    rt = drive(settings, n)
    assert_each_sent_once(rt, fake, n)
    info = stats(fake)
    assert info["injected"] >= 0.2 * info["calls"]
    with rt.sessions() as s:
        found = s.scalar(select(func.count()).select_from(SendLog).where(
            SendLog.note == "found in Sent items"))
        retried = s.scalar(select(func.count()).select_from(SendLog).where(
            SendLog.to_state == "scheduled", SendLog.from_state == "sending"))
    assert found and found > 10  # accepted-then-error sends were reconciled, not resent
    assert retried and retried > 10


def test_two_dispatchers_at_once(
    runtime: Runtime, rep: Actor, settings: Settings, fake: FakeProviderServer,
    workers: Workers, n: int,
) -> None:
    due_sends(rep, n)
    small = settings.with_(dispatch_batch_size=25)
    runtimes = [Runtime.from_settings(small) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(rt: Runtime) -> None:
        barrier.wait()
        results.append(dispatch.tick(rt).promoted)

    threads = [threading.Thread(target=run, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == n  # every row promoted by exactly one of them
    with runtime.sessions() as s:
        per_send = s.execute(
            select(SendLog.send_id, func.count()).where(SendLog.to_state == "queued")
            .group_by(SendLog.send_id)).all()
    assert len(per_send) == n and {c for _, c in per_send} == {1}
    from rq import Queue

    assert Queue(settings.queue_name, connection=runtime.redis()).count == n
    workers.start(2)
    rt = drive(settings, n)
    assert_each_sent_once(rt, fake, n)
    for r in runtimes:
        r.engine.dispose()


def test_sigterm_lets_the_current_send_finish(
    runtime: Runtime, rep: Actor, settings: Settings, fake: FakeProviderServer,
    workers: Workers,
) -> None:
    due_sends(rep, 1)
    with runtime.sessions() as s:
        (send_id,) = s.scalars(select(Send.id))
    requests.post(fake.url + "/_hold", json={"send_id": send_id}, timeout=5)
    workers.start(1)
    (worker,) = workers.procs
    dispatch.tick(Runtime.from_settings(settings))
    end = time.monotonic() + 60
    while not stats(fake)["held"]:
        assert time.monotonic() < end, "the send never reached the provider"
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)  # warm shutdown, in the middle of the send call
    time.sleep(0.5)
    assert worker.poll() is None  # still finishing its send
    requests.post(fake.url + "/_release", timeout=5)
    assert worker.wait(30) == 0
    assert states(runtime) == {"sent": 1}
    assert stats(fake)["accepted"] == {str(send_id): 1}
