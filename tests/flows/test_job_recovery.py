"""Every fixed-id job recovers from a worker killed by SIGKILL in the middle of it (issue 20):
real `addin-server worker` subprocesses, a real Redis, both databases, and the provider fakes
holding the job's provider call open so that the kill lands inside the job.

The periodic work (the CRM sweep, the dispatcher's pass, the reply-poll and Sent-items duties)
runs in the test process on the real clock, as `addin-server crm-sync` and `dispatch` would.
Leases are short (settings); every wait is on a condition with a generous timeout, so the
tests do not depend on the machine's speed. Each test prints how long after the kill the work
resumed (`pytest -s`; docs/testing.md).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.crm.sweep import sweep
from addin_server.enums import CrmLinkKind, CrmLinkState, TaskStatus
from addin_server.models import Mailbox, Send, Task
from addin_server.runtime import Runtime
from addin_server.sending import dispatcher
from addin_server.workers.crm import RqEnqueuer
from addin_server.workers.polls import enqueue_polls
from addin_server.workers.sent_items import SYNC_JOB_ID, schedule_sync
from tests.conftest import Actor, FrozenClock
from tests.crm.test_sync import campaign, connect, connection, launch, link_of, open_task
from tests.fakes.fixtures import connected_gmail_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.provider import FakeProviderServer
from tests.fakes.salesforce import FakeSalesforce, FakeServer
from tests.support.replies_providers import REP, rep_with
from tests.support.sending import launch as launch_sends
from tests.support.sending import make_campaign, people, states
from tests.support.workers import Workers, worker_env

pytestmark = pytest.mark.slow

LEASE = 2  # seconds: the job lease (JOB_LEASE_SECONDS) and, below, the rows' leases
TIMEOUT = 120.0  # generous: a slow machine waits longer, it does not fail


def wait_for(condition: Callable[[], object], what: str, *,
             every: Callable[[], object] = lambda: None, timeout: float = TIMEOUT) -> float:
    """Run `every` (the periodic pass) until `condition` holds; the monotonic time it did."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        every()
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def started(rt: Runtime) -> list[str]:
    return StartedJobRegistry(rt.settings.queue_name, connection=rt.redis()).get_job_ids()


def start_spare(workers: Workers, rt: Runtime) -> None:
    """One more worker, returning once it listens to the queue."""
    queue = Queue(rt.settings.queue_name, connection=rt.redis())
    alive = len(Worker.all(queue=queue))
    workers.start(1)
    wait_for(lambda: len(Worker.all(queue=queue)) > alive, "a spare worker")


def report(kind: str, seconds: float) -> None:
    print(f"\n[job recovery] {kind}: work resumed {seconds:.1f} s after the SIGKILL "
          f"(job lease {LEASE} s)")


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    connection = Redis.from_url(settings.redis_url)
    # Throttle keys are not per queue (sent-items-sync:recent, poll-<mailbox id>): one left by
    # an earlier test with the default 300 s would hold the periodic pass longer than any wait
    # here. This run's own database (TEST_REDIS_URL), so emptying it touches nothing else.
    connection.flushdb()
    yield connection
    Queue(settings.queue_name, connection=connection).empty()
    connection.close()


# --- Salesforce: crm-batch-<connection>, crm-<link>, crm-pull-<connection> ---------------------


@pytest.fixture
def fake(clock: FrozenClock) -> Iterator[FakeSalesforce]:
    with FakeServer(FakeSalesforce(clock=clock)) as f:
        yield f


@pytest.fixture
def settings(settings: Settings, fake: FakeSalesforce, google_fake: GoogleFake) -> Settings:
    """The app's settings (the `rep` fixture's app) share the fakes and the queue."""
    return fake_settings(settings, google=google_fake).with_(
        salesforce_client_id=fake.client_id, salesforce_client_secret=fake.client_secret,
        salesforce_login_url=fake.url, queue_name=f"recovery-{uuid.uuid4().hex[:8]}",
        job_lease_seconds=LEASE, crm_lease_seconds=LEASE + 1, salesforce_poll_seconds=1)


@pytest.fixture
def crm_workers(settings: Settings, tmp_path: Path, redis: Redis) -> Iterator[Workers]:
    w = Workers(worker_env(settings, SALESFORCE_CLIENT_ID=settings.salesforce_client_id,
                           SALESFORCE_CLIENT_SECRET=settings.salesforce_client_secret,
                           SALESFORCE_LOGIN_URL=settings.salesforce_login_url,
                           JOB_LEASE_SECONDS=str(LEASE), CRM_LEASE_SECONDS=str(LEASE + 1),
                           SALESFORCE_POLL_SECONDS="1"), tmp_path)
    yield w
    w.stop()


def kill_holder(fake: FakeSalesforce, workers: Workers, rt: Runtime, job_id: str,
                tick: Callable[[], object]) -> float:
    """The one worker is inside `job_id`, held at the fake: start another (the time a process
    takes to start is not the mechanism's), SIGKILL the first, let the held call go on.
    Returns when the kill happened (monotonic)."""
    wait_for(fake.held.is_set, f"{job_id} to reach Salesforce", every=tick)
    assert job_id in started(rt)
    [victim] = [p.pid for p in workers.procs if p.poll() is None]
    start_spare(workers, rt)
    workers.kill(victim)
    killed = time.monotonic()
    fake.hold_on = ""
    fake.release.set()  # the killed worker's call is carried out; nobody hears the answer
    return killed


def test_a_batch_push_whose_worker_was_killed_is_handed_out_again(
        rep: Actor, settings: Settings, fake: FakeSalesforce, crm_workers: Workers) -> None:
    rt = Runtime.from_settings(settings)  # the real clock, as `addin-server crm-sync`
    connect(rep, fake)
    conn_id = connection(rt, rep).id
    fake.hold_on = "composite/sobjects"
    crm_workers.start(1)
    enrollments = launch(rep, campaign(rep), [f"p{i}@example.test" for i in range(8)])
    enqueuer = RqEnqueuer(rt)
    killed = kill_holder(fake, crm_workers, rt, f"crm-batch-{conn_id}",
                         lambda: sweep(rt, enqueuer))
    tasks = [open_task(rt, e).id for e in enrollments]

    def synced() -> bool:
        return all(link_of(rt, CrmLinkKind.TASK, t).state == CrmLinkState.SYNCED for t in tasks)

    done = wait_for(synced, "the rows to be pushed", every=lambda: sweep(rt, enqueuer))
    report("crm-batch-<connection> (8 rows)", done - killed)
    assert len(fake.live_tasks()) == 8  # each once: the killed call's records were found again


def test_a_single_push_whose_worker_was_killed_is_handed_out_again(
        rep: Actor, settings: Settings, fake: FakeSalesforce, crm_workers: Workers) -> None:
    rt = Runtime.from_settings(settings)
    connect(rep, fake)
    crm_workers.start(1)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(rt, enrollment)
    enqueuer = RqEnqueuer(rt)
    wait_for(lambda: link_of(rt, CrmLinkKind.TASK, call.id).state == CrmLinkState.SYNCED,
             "the first push", every=lambda: sweep(rt, enqueuer))
    fake.hold_on = "sobjects/Task/"  # one record: the single-record PATCH
    answer = rep.post(f"/api/v1/tasks/{call.id}/complete")  # the commit enqueues crm-<link>
    assert answer.status_code == 200, answer.json
    link = link_of(rt, CrmLinkKind.TASK, call.id)
    killed = kill_holder(fake, crm_workers, rt, f"crm-{link.id}", lambda: sweep(rt, enqueuer))

    def completed() -> bool:
        return [t["Status"] for t in fake.live_tasks() if t["Id"] == link.sf_id] == ["Completed"]

    done = wait_for(lambda: completed() and link_of(rt, CrmLinkKind.TASK, call.id).state
                    == CrmLinkState.SYNCED, "the completion to be pushed",
                    every=lambda: sweep(rt, enqueuer))
    report("crm-<link>", done - killed)


def test_a_pull_whose_worker_was_killed_is_started_again(
        rep: Actor, settings: Settings, fake: FakeSalesforce, crm_workers: Workers) -> None:
    rt = Runtime.from_settings(settings)
    connect(rep, fake)
    conn_id = connection(rt, rep).id
    crm_workers.start(1)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(rt, enrollment)
    enqueuer = RqEnqueuer(rt)
    wait_for(lambda: link_of(rt, CrmLinkKind.TASK, call.id).state == CrmLinkState.SYNCED,
             "the first push", every=lambda: sweep(rt, enqueuer))
    fake.held.clear()
    fake.hold_on = "queryAll"
    killed = kill_holder(fake, crm_workers, rt, f"crm-pull-{conn_id}",
                         lambda: sweep(rt, enqueuer))
    fake.close_task(link_of(rt, CrmLinkKind.TASK, call.id).sf_id or "")

    def completed_here() -> bool:
        with rt.sessions() as s:
            return s.get_one(Task, call.id).status == TaskStatus.COMPLETED

    done = wait_for(completed_here, "the pull to complete the task here",
                    every=lambda: sweep(rt, enqueuer))
    report("crm-pull-<connection>", done - killed)


# --- sends: send-<id> -------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


def test_a_send_whose_worker_was_killed_is_sent_once(
        runtime: Runtime, rep: Actor, settings: Settings, provider: FakeProviderServer,
        tmp_path: Path, redis: Redis) -> None:
    send_settings = settings.with_(
        mailbox_factory="tests.fakes.provider:open_fake",
        extra={"fake_provider_url": provider.url}, send_lease_seconds=LEASE,
        reconcile_grace_seconds=1.0, requeue_after_seconds=1.0,
        send_job_timeout_seconds=600)  # the old rule waited requeue_after + the job timeout
    workers = Workers(worker_env(
        send_settings, MAILBOX_FACTORY="tests.fakes.provider:open_fake",
        FAKE_PROVIDER_URL=provider.url, JOB_LEASE_SECONDS=str(LEASE),
        SEND_LEASE_SECONDS=str(LEASE), SEND_JOB_TIMEOUT_SECONDS="600"), tmp_path)
    try:
        launch_sends(rep, make_campaign(rep), people(1))
        with runtime.sessions() as s:
            [send_id] = s.scalars(select(Send.id))
        # Held inside the provider's send call; after the kill the provider refuses it (not
        # sent): the send must be retried, through its job id `send-<id>` again.
        requests.post(provider.url + "/_hold", json={"send_id": send_id}, timeout=5)
        requests.post(provider.url + "/_script", json={"op": "send", "count": 1,
                                                       "status": 500}, timeout=5)
        rt = Runtime.from_settings(send_settings)
        workers.start(1)

        def stats() -> dict[str, object]:
            return dict(requests.get(provider.url + "/_stats", timeout=5).json())

        def tick() -> object:
            return dispatcher.tick(rt, datetime.now(UTC))

        wait_for(lambda: stats()["held"], "the send to reach the provider", every=tick)
        assert f"send-{send_id}" in started(rt)
        start_spare(workers, rt)
        workers.kill(int(str(stats()["held_pid"])))
        killed = time.monotonic()
        requests.post(provider.url + "/_release", timeout=5)
        done = wait_for(lambda: states(rt) == {"sent": 1}, "the send to go out", every=tick)
        report("send-<id> (send lease 2 s, grace 1 s)", done - killed)
        assert stats()["accepted"] == {str(send_id): 1}
    finally:
        workers.stop()


# --- Gmail: poll-<mailbox> (with its watch renewal) and the Sent-items pass -------------------


@pytest.fixture
def gmail_workers(settings: Settings, tmp_path: Path, redis: Redis) -> Iterator[Workers]:
    w = Workers(worker_env(settings, GOOGLE_CLIENT_ID=settings.google_client_id,
                           GOOGLE_CLIENT_SECRET=settings.google_client_secret,
                           GOOGLE_AUTH_URI=settings.google_auth_uri,
                           GOOGLE_TOKEN_URI=settings.google_token_uri,
                           GMAIL_API_ENDPOINT=settings.gmail_api_endpoint,
                           JOB_LEASE_SECONDS=str(LEASE)), tmp_path)
    yield w
    w.stop()


def kill_gmail_holder(google: GoogleFake, workers: Workers, rt: Runtime, job_id: str,
                      tick: Callable[[], object]) -> tuple[float, int]:
    """As kill_holder, at the fake Gmail. Returns (when killed, Gmail requests seen by then)."""
    wait_for(google.held.is_set, f"{job_id} to reach Gmail", every=tick)
    assert job_id in started(rt)
    [victim] = [p.pid for p in workers.procs if p.poll() is None]
    start_spare(workers, rt)
    workers.kill(victim)
    killed, seen = time.monotonic(), len(google.api_requests)
    google.hold_api = False
    google.release.set()
    return killed, seen


def test_a_reply_poll_whose_worker_was_killed_is_queued_again(
        runtime: Runtime, client: FlaskClient, settings: Settings, google_fake: GoogleFake,
        gmail_workers: Workers) -> None:
    _, mailbox_id = rep_with(runtime, client, connected_gmail_row(settings, google_fake, REP))
    rt = Runtime.from_settings(settings.with_(reply_poll_seconds=1))
    google_fake.hold_api = True
    gmail_workers.start(1)
    killed, _ = kill_gmail_holder(google_fake, gmail_workers, rt, f"poll-{mailbox_id}",
                                  lambda: enqueue_polls(rt, datetime.now(UTC)))

    def polled() -> bool:
        with rt.sessions() as s:
            return s.get_one(Mailbox, mailbox_id).synced_at is not None

    done = wait_for(polled, "a poll to finish",
                    every=lambda: enqueue_polls(rt, datetime.now(UTC)))
    report("poll-<mailbox> (reply poll and watch renewal)", done - killed)


def test_a_sent_items_pass_whose_worker_was_killed_is_queued_again(
        runtime: Runtime, client: FlaskClient, settings: Settings, google_fake: GoogleFake,
        gmail_workers: Workers) -> None:
    actor, _ = rep_with(runtime, client, connected_gmail_row(settings, google_fake, REP))
    launch(actor, campaign(actor, [{"day": 1, "type": "email", "send_option": "manual_task",
                                    "subject": "Hello", "body_html": "<p>Hello</p>"}]),
           ["pat@example.test"])
    rt = Runtime.from_settings(settings.with_(sent_sync_seconds=1))
    google_fake.hold_api = True
    gmail_workers.start(1)
    killed, seen = kill_gmail_holder(google_fake, gmail_workers, rt, SYNC_JOB_ID,
                                     lambda: schedule_sync(rt, datetime.now(UTC)))
    # The pass read the Sent items again (a live worker's request) and finished.
    done = wait_for(lambda: len(google_fake.api_requests) > seen
                    and SYNC_JOB_ID not in started(rt), "another Sent-items pass",
                    every=lambda: schedule_sync(rt, datetime.now(UTC)))
    report("sent-items-sync", done - killed)
