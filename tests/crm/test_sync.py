"""Salesforce sync end to end: the connect flow through the app, sync rows written with the
change, pushes and pulls against the fake Salesforce (real requests, real database on SQLite
and PostgreSQL, real Redis for the RQ wiring)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from addin_server import crypto, feed
from addin_server.config import Settings
from addin_server.crm import push, records, sweep
from addin_server.crm.connections import open_crm
from addin_server.crm.pull import pull
from addin_server.crm.salesforce import key_marker
from addin_server.enrollments import tasks
from addin_server.enrollments.tasks import record_sent_email
from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus, TaskStatus
from addin_server.models import CrmConnection, CrmLink, Enrollment, Event, SentMessage, Task
from addin_server.runtime import Runtime
from addin_server.workers import crm as jobs
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.salesforce import FakeSalesforce, FakeServer

KEY = crypto.new_key()


@pytest.fixture
def fake(clock: FrozenClock) -> Iterator[FakeSalesforce]:
    with FakeServer(FakeSalesforce(clock=clock)) as f:
        yield f


@pytest.fixture
def settings(settings: Settings, fake: FakeSalesforce) -> Settings:
    return settings.with_(
        encryption_keys=(KEY,), salesforce_client_id=fake.client_id,
        salesforce_client_secret=fake.client_secret, salesforce_login_url=fake.url,
        salesforce_sandbox_login_url=f"{fake.url}/sandbox", salesforce_timeout=5.0)


@pytest.fixture(autouse=True)
def redis(settings: Settings) -> Iterator[Redis]:
    connection = Redis.from_url(settings.redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


class Recorder(sweep.Enqueuer):
    def __init__(self) -> None:
        self.pushes: list[int] = []
        self.batches: list[int] = []
        self.pulls: list[int] = []

    def push(self, link_id: int) -> None:
        self.pushes.append(link_id)

    def batch(self, connection_id: int) -> None:
        self.batches.append(connection_id)

    def pull(self, connection_id: int) -> None:
        self.pulls.append(connection_id)


# --- helpers ----------------------------------------------------------------------------------


def connect(actor: Actor, fake: FakeSalesforce, *, sandbox: bool = False) -> Any:
    """The whole OAuth dance: our connect URL, Salesforce's authorize, our callback."""
    answer = actor.get("/crm/salesforce/connect" + ("?sandbox=1" if sandbox else ""))
    assert answer.status_code == 200, answer.json
    authorize = answer.json["authorize_url"]
    login_host = f"{fake.url}/sandbox" if sandbox else fake.url
    assert authorize.startswith(f"{login_host}/services/oauth2/authorize?")
    back = requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"]
    parsed = urlparse(back)
    assert parsed.path == "/crm/salesforce/callback"
    return actor.client.get(f"/crm/salesforce/callback?{parsed.query}",
                            headers={"Accept": "application/json"})


def connection(runtime: Runtime, actor: Actor) -> CrmConnection:
    with runtime.sessions() as s:
        conn = s.scalar(select(CrmConnection).where(CrmConnection.rep_id == actor.rep_id))
        assert conn is not None
        return conn


def campaign(actor: Actor, steps: list[dict[str, Any]] | None = None) -> int:
    steps = steps or [
        {"day": 1, "type": "call", "instructions": "Ask about Q1 budget"},
        {"day": 2, "type": "email", "send_option": "manual_task", "subject": "Hello {{first_name}}",
         "body_html": "<p>Hello {{first_name}}</p>"},
        {"day": 4, "type": "linkedin"},
    ]
    answer = actor.post("/api/v1/campaigns", json={
        "name": "Q4 calls", "timezone": "Europe/Paris", "steps": steps,
        "settings": {"skip_weekends": True}})
    assert answer.status_code == 201, answer.json
    return int(answer.json["id"])


def launch(actor: Actor, campaign_id: int, emails: list[str]) -> list[int]:
    answer = actor.post(f"/api/v1/campaigns/{campaign_id}/launch", json={
        "people": [{"email": e, "first_name": e.split("@")[0].title()} for e in emails]})
    assert answer.status_code == 201, answer.json
    return [e["id"] for e in answer.json["enrollments"]]


def open_task(runtime: Runtime, enrollment_id: int) -> Task:
    with runtime.sessions() as s:
        task = s.scalar(select(Task).where(Task.enrollment_id == enrollment_id,
                                           Task.status == TaskStatus.OPEN))
        assert task is not None
        return task


def link_of(runtime: Runtime, kind: CrmLinkKind, local_id: int) -> CrmLink:
    with runtime.sessions() as s:
        link = s.scalar(select(CrmLink).where(CrmLink.kind == kind,
                                              CrmLink.local_id == local_id))
        assert link is not None
        return link


def push_all(runtime: Runtime, actor: Actor) -> push.PushReport:
    return push.push_due(runtime, connection(runtime, actor).id)


# --- connecting -------------------------------------------------------------------------------


def test_connect_keeps_instance_url_owner_and_an_encrypted_grant(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    answer = connect(rep, fake)
    assert answer.status_code == 200, answer.json
    conn = connection(runtime, rep)
    assert conn.status == CrmStatus.CONNECTED
    assert conn.instance_url == f"{fake.url}/inst"
    assert (conn.sf_user_id, conn.sf_org_id) == (fake.user_id, fake.org_id)
    assert conn.login_url == fake.url
    [grant] = fake.refresh_tokens
    assert conn.refresh_token is not None and grant.encode() not in conn.refresh_token
    assert crypto.decrypt(runtime.settings, conn.refresh_token) == grant
    with runtime.sessions() as s:
        types = list(s.scalars(select(Event.type).where(Event.rep_id == rep.rep_id)))
    assert types == [feed.CRM_CONNECTED]
    status = rep.get("/crm/salesforce").json
    assert status["connected"] is True and status["user_id"] == fake.user_id


def test_connect_to_a_sandbox_uses_the_sandbox_login_host(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    assert connect(rep, fake, sandbox=True).status_code == 200
    conn = connection(runtime, rep)
    assert conn.login_url == f"{fake.url}/sandbox"
    fake.expire_access_tokens()  # the refresh goes to the sandbox host too
    fake.add_contact("pat@example.test")
    launch(rep, campaign(rep), ["pat@example.test"])
    assert push_all(runtime, rep).pushed == 1
    assert fake.calls("POST", "/sandbox/services/oauth2/token") == 2


def test_connect_needs_a_signed_in_rep(client: Any, fake: FakeSalesforce) -> None:
    answer = client.get("/crm/salesforce/connect")
    assert answer.status_code == 401
    assert answer.json["errors"][0]["field"] == "Authorization"


def test_connect_from_the_web_session_redirects_to_salesforce(
        rep: Actor, fake: FakeSalesforce) -> None:
    with rep.client.session_transaction() as web_session:
        web_session["rep_id"] = rep.rep_id
        web_session["session_version"] = 1
    answer = rep.client.get("/crm/salesforce/connect")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{fake.url}/services/oauth2/authorize?")


def test_callback_with_a_forged_state_is_refused(runtime: Runtime, rep: Actor,
                                                 fake: FakeSalesforce) -> None:
    answer = rep.client.get("/crm/salesforce/callback?code=abc&state=forged",
                            headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert "state" in answer.json["errors"][0]["message"]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CrmConnection)) == 0


def test_callback_for_another_signed_in_rep_is_refused(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    other = make_actor(runtime, rep.client, "bob@acme.test")
    authorize = rep.get("/crm/salesforce/connect").json["authorize_url"]
    back = requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"]
    with rep.client.session_transaction() as web_session:
        web_session["rep_id"] = other.rep_id
        web_session["session_version"] = 1
    answer = rep.client.get(f"/crm/salesforce/callback?{urlparse(back).query}")
    assert answer.status_code == 403


def test_an_org_without_salesforce_writes_no_sync_rows(runtime: Runtime, rep: Actor) -> None:
    launch(rep, campaign(rep), ["pat@example.test"])
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CrmLink)) == 0


# --- tasks to Salesforce ----------------------------------------------------------------------


def test_a_new_task_becomes_a_salesforce_task(runtime: Runtime, rep: Actor,
                                              fake: FakeSalesforce) -> None:
    connect(rep, fake)
    contact = fake.add_contact("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    task = open_task(runtime, enrollment)
    link = link_of(runtime, CrmLinkKind.TASK, task.id)  # written with the launch
    assert (link.state, link.sf_id, link.version) == (CrmLinkState.PENDING, None, 1)
    assert fake.tasks == {}
    report = push_all(runtime, rep)
    assert (report.pushed, report.created) == (1, 1)
    [made] = fake.live_tasks()
    assert made["Subject"] == "Call (step 1, day 1) · Q4 calls"
    assert made["WhoId"] == contact
    assert made["OwnerId"] == fake.user_id
    assert made["Status"] == "Not Started"
    assert made["ActivityDate"] == "2026-11-24"
    assert made["Priority"] == "Normal"
    assert made["TaskSubtype"] == "Call"
    marker = key_marker(f"as-task-{task.id}")
    assert made["Description"] == ("Ask about Q1 budget\nCampaign: Q4 calls\n"
                                   f"Person: pat@example.test\n\n{marker}")
    link = link_of(runtime, CrmLinkKind.TASK, task.id)
    assert (link.state, link.sf_id, link.pushed_version) == (CrmLinkState.SYNCED, made["Id"], 1)
    assert rep.get("/crm/salesforce").json["sync"] == {"synced": 1}


def test_completing_and_skipping_here_update_salesforce(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    lead = fake.add_lead("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    push_all(runtime, rep)
    assert rep.post(f"/api/v1/tasks/{call.id}/complete").json["changed"] is True
    email = open_task(runtime, enrollment)
    report = push_all(runtime, rep)
    assert (report.pushed, report.created) == (2, 1)  # the call updated, the email task made
    first = fake.tasks[link_of(runtime, CrmLinkKind.TASK, call.id).sf_id or ""]
    assert first["Status"] == "Completed" and first["TaskSubtype"] == "Call"
    second = fake.tasks[link_of(runtime, CrmLinkKind.TASK, email.id).sf_id or ""]
    assert (second["TaskSubtype"], second["WhoId"], second["Status"]) == (
        "Email", lead, "Not Started")
    assert rep.post(f"/api/v1/tasks/{email.id}/skip").json["changed"] is True
    push_all(runtime, rep)
    assert second["Status"] == "Completed"
    assert "Skipped in the campaign." in second["Description"]
    assert len(fake.live_tasks()) == 3  # call, email, and now the LinkedIn task


def test_a_call_s_outcome_and_note_reach_salesforce(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    fake.add_contact("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    push_all(runtime, rep)
    done = rep.post(f"/api/v1/tasks/{call.id}/complete",
                    json={"outcome": "wrong_number", "note": "Reception says Pat left"})
    assert done.json["changed"] is True
    push_all(runtime, rep)
    made = fake.tasks[link_of(runtime, CrmLinkKind.TASK, call.id).sf_id or ""]
    assert (made["Status"], made["CallDisposition"]) == ("Completed", "Wrong number")
    assert made["Description"].startswith("Reception says Pat left\nAsk about Q1 budget\n")


def test_stopping_the_enrollment_closes_its_task_there(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    task = open_task(runtime, enrollment)
    push_all(runtime, rep)
    assert rep.post(f"/api/v1/enrollments/{enrollment}/stop").status_code == 200
    push_all(runtime, rep)
    [there] = fake.live_tasks()
    assert there["Status"] == "Completed"
    assert "the person's campaign ended" in there["Description"]
    assert "WhoId" not in there  # no Contact or Lead with that address: a task all the same
    assert link_of(runtime, CrmLinkKind.TASK, task.id).state == CrmLinkState.SYNCED


def test_many_tasks_go_in_one_composite_request(runtime: Runtime, rep: Actor,
                                                fake: FakeSalesforce) -> None:
    connect(rep, fake)
    emails = [f"p{i}@example.test" for i in range(12)]
    for email in emails:
        fake.add_contact(email)
    launch(rep, campaign(rep), emails)
    report = push_all(runtime, rep)
    assert (report.pushed, report.created) == (12, 12)
    assert fake.calls("POST", "/composite/sobjects") == 1
    assert fake.calls("POST", "/sobjects/Task") == 0
    assert fake.calls("GET", "FROM+Contact") == 1  # one query finds all twelve
    assert fake.calls("GET", "FROM+Lead") == 0
    assert sorted(t["WhoId"] for t in fake.live_tasks()) == sorted(
        c["Id"] for c in fake.contacts)


# --- exactly once -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["description", "field", "upsert"])
def test_a_retry_after_a_timeout_finds_the_record_instead_of_making_another(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock, mode: str
) -> None:
    if mode != "description":
        fake.key_field, fake.key_field_external = "Campaign_Sync_Key__c", mode == "upsert"
    connect(rep, fake)
    fake.add_contact("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    task = open_task(runtime, enrollment)
    runtime.settings = runtime.settings.with_(salesforce_timeout=0.4)
    fake.hold_creates = threading.Event()  # the record is made; the answer comes too late
    first = push_all(runtime, rep)
    assert (first.pushed, first.deferred) == (0, 1)
    assert len(fake.tasks) == 1
    link = link_of(runtime, CrmLinkKind.TASK, task.id)
    assert (link.state, link.sf_id, link.attempts) == (CrmLinkState.PENDING, None, 1)
    assert "ReadTimeout" in link.last_error
    fake.hold_creates.set()
    fake.hold_creates = None
    assert connection(runtime, rep).key_mode == mode
    assert push_all(runtime, rep).pushed == 0  # waits for its back-off
    clock.advance(minutes=2)
    again = push_all(runtime, rep)
    assert (again.pushed, again.found_again, again.created) == (1, 1, 0)
    [only] = fake.tasks.values()
    link = link_of(runtime, CrmLinkKind.TASK, task.id)
    assert (link.state, link.sf_id) == (CrmLinkState.SYNCED, only["Id"])
    if mode != "description":
        assert only["Campaign_Sync_Key__c"] == f"as-task-{task.id}"


class CrashOnUpdate:
    """The real adapter, except that the worker dies when it comes to updating."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_tasks(self, records: Any) -> Any:
        raise SystemExit("worker killed")


def test_the_salesforce_id_is_committed_right_after_the_create(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    push_all(runtime, rep)
    rep.post(f"/api/v1/tasks/{call.id}/complete")  # the call to update, the email task to make
    email = open_task(runtime, enrollment)
    conn_id = connection(runtime, rep).id

    def crashing(rt: Runtime, conn: CrmConnection, reading: Any) -> Any:
        return CrashOnUpdate(open_crm(rt, conn, reading))

    with pytest.raises(SystemExit):
        push.push_due(runtime, conn_id, opener=crashing)
    made = link_of(runtime, CrmLinkKind.TASK, email.id)
    assert made.sf_id is not None and made.sf_id in fake.tasks  # kept before the crash
    assert made.state == CrmLinkState.PENDING and made.lease_until is not None
    clock.advance(minutes=6)  # the lease runs out
    report = push_all(runtime, rep)
    assert (report.pushed, report.created, report.found_again) == (2, 0, 0)
    assert len(fake.tasks) == 2
    assert fake.tasks[made.sf_id]["Status"] == "Not Started"
    assert fake.tasks[link_of(runtime, CrmLinkKind.TASK, call.id).sf_id or ""]["Status"] == (
        "Completed")


# --- tokens -----------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_and_saved(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    before = connection(runtime, rep).access_token
    fake.expire_access_tokens()
    launch(rep, campaign(rep), ["pat@example.test"])
    assert push_all(runtime, rep).pushed == 1
    conn = connection(runtime, rep)
    assert conn.access_token != before and conn.access_token is not None
    assert crypto.decrypt(runtime.settings, conn.access_token) in fake.access_tokens
    assert fake.calls("POST", "/services/oauth2/token") == 2


def test_a_revoked_grant_disconnects_and_nothing_is_lost(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    task = open_task(runtime, enrollment)
    fake.revoke()
    report = push_all(runtime, rep)
    assert (report.pushed, report.deferred) == (0, 1)
    conn = connection(runtime, rep)
    assert conn.status == CrmStatus.DISCONNECTED
    assert "invalid_grant" in conn.status_reason
    assert conn.refresh_token is None and conn.access_token is None
    with runtime.sessions() as s:
        events = list(s.scalars(select(Event).where(Event.type == feed.CRM_DISCONNECTED)))
    assert [(e.rep_id, e.data["crm"]) for e in events] == [(rep.rep_id, "salesforce")]
    link = link_of(runtime, CrmLinkKind.TASK, task.id)
    assert (link.state, link.sf_id) == (CrmLinkState.PENDING, None)
    assert push_all(runtime, rep).pushed == 0  # a second push changes nothing and says nothing
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pushes == recorder.batches == recorder.pulls == []
    assert rep.get("/crm/salesforce").json["status"] == "disconnected"
    # Reconnecting resumes the waiting work.
    assert connect(rep, fake).status_code == 200
    assert connection(runtime, rep).status == CrmStatus.CONNECTED
    assert push_all(runtime, rep).pushed == 1
    assert link_of(runtime, CrmLinkKind.TASK, task.id).state == CrmLinkState.SYNCED
    assert len(fake.live_tasks()) == 1


def test_disconnect_by_the_rep(runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    answer = rep.post("/crm/salesforce/disconnect")
    assert answer.status_code == 200 and answer.json["status"] == "disconnected"
    assert connection(runtime, rep).refresh_token is None
    other = make_actor(runtime, rep.client, "eve@other.test", org="Other")
    assert other.post("/crm/salesforce/disconnect").status_code == 404


# --- allocation -------------------------------------------------------------------------------


def test_sync_slows_down_before_the_daily_allocation_runs_out(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    fake.add_contact("pat@example.test")
    fake.api_used, fake.api_limit = 13_600, 15_000
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    assert push_all(runtime, rep).pushed == 1
    conn = connection(runtime, rep)
    assert conn.api_limit == 15_000 and conn.api_used is not None and conn.api_used > 13_600
    # Above 90%: the rep's task changes still go, the activity log waits.
    with runtime.sessions.begin() as s:
        sent = record_sent_email(
            s, enrollment=s.get_one(Enrollment, enrollment), position=0, mailbox_id=1,
            to_addr="pat@example.test", subject="Hi", body_html="<p>Hi</p>", sent_at=clock(),
            provider_message_id=None, thread_id=None, rfc_message_id=None, references="")
        sent_id = sent.id
    rep.post(f"/api/v1/tasks/{call.id}/complete")
    report = push_all(runtime, rep)
    assert (report.pushed, report.deferred) == (2, 1)  # call updated + email task made
    waiting = link_of(runtime, CrmLinkKind.SENT, sent_id)
    assert waiting.state == CrmLinkState.PENDING and "allocation" in waiting.last_error
    assert waiting.next_attempt_at == clock() + records.LIMIT_WAIT
    # Above 98%: nothing goes.
    fake.api_used = 14_750
    email = open_task(runtime, enrollment)
    rep.post(f"/api/v1/tasks/{email.id}/complete")
    linkedin = open_task(runtime, enrollment)
    push_all(runtime, rep)  # the email task closed, the LinkedIn task made; it reads 98.x%
    assert (connection(runtime, rep).api_used or 0) >= 14_750
    rep.post(f"/api/v1/tasks/{linkedin.id}/complete")
    calls = len(fake.log)
    report = push_all(runtime, rep)
    assert (report.pushed, report.deferred) == (0, 1)
    assert len(fake.log) == calls  # not one request
    link = link_of(runtime, CrmLinkKind.TASK, linkedin.id)
    assert (link.state, link.version, link.pushed_version) == (CrmLinkState.PENDING, 2, 1)


def test_limit_exceeded_holds_the_connection(runtime: Runtime, rep: Actor,
                                             fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    fake.api_used, fake.api_limit = 15_000, 15_000
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    report = push_all(runtime, rep)
    assert (report.pushed, report.deferred) == (0, 1)
    assert connection(runtime, rep).hold_until == clock() + records.LIMIT_EXCEEDED_WAIT
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.batches == recorder.pushes == []
    clock.advance(hours=1, minutes=1)
    fake.api_used = 100  # the rolling window freed some
    assert push_all(runtime, rep).pushed == 1
    assert link_of(runtime, CrmLinkKind.TASK, open_task(runtime, enrollment).id).sf_id


# --- tasks from Salesforce --------------------------------------------------------------------


def test_a_task_closed_in_salesforce_is_completed_here_and_the_campaign_moves_on(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    push_all(runtime, rep)
    sf_id = link_of(runtime, CrmLinkKind.TASK, call.id).sf_id or ""
    clock.advance(minutes=30)
    fake.close_task(sf_id)
    patches = fake.calls("PATCH", "/sobjects/Task/")
    report = pull(runtime, connection(runtime, rep).id, tasks=tasks)
    assert (report.completed, report.removed) == (1, 0)
    with runtime.sessions() as s:
        done = s.get_one(Task, call.id)
        assert (done.status, done.completed_at) == (TaskStatus.COMPLETED, clock())
        assert s.get_one(Enrollment, enrollment).current_position == 1
    assert link_of(runtime, CrmLinkKind.TASK, call.id).state == CrmLinkState.SYNCED
    push_all(runtime, rep)
    assert fake.calls("PATCH", "/sobjects/Task/") == patches  # nothing pushed back
    assert len(fake.live_tasks()) == 2  # the next step's task went there
    assert connection(runtime, rep).pull_cursor == clock()
    again = pull(runtime, connection(runtime, rep).id, tasks=tasks)
    assert again.completed == 0


def test_a_task_deleted_in_salesforce_is_removed_here(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    call = open_task(runtime, enrollment)
    push_all(runtime, rep)
    clock.advance(minutes=5)
    fake.delete_task(link_of(runtime, CrmLinkKind.TASK, call.id).sf_id or "")
    report = pull(runtime, connection(runtime, rep).id, tasks=tasks)
    assert report.removed == 1
    with runtime.sessions() as s:
        assert s.get_one(Task, call.id).status == TaskStatus.SKIPPED
        assert s.get_one(Enrollment, enrollment).current_position == 1
    assert link_of(runtime, CrmLinkKind.TASK, call.id).state == CrmLinkState.REMOVED


def test_pulls_are_due_on_the_poll_interval(runtime: Runtime, rep: Actor, fake: FakeSalesforce,
                                            clock: FrozenClock) -> None:
    connect(rep, fake)
    conn_id = connection(runtime, rep).id
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pulls == [conn_id]
    pull(runtime, conn_id, tasks=tasks)
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pulls == []
    clock.advance(seconds=runtime.settings.salesforce_poll_seconds)
    sweep.sweep(runtime, recorder)
    assert recorder.pulls == [conn_id]


# --- activity logging -------------------------------------------------------------------------


def test_a_sent_email_is_logged_as_a_completed_task(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    lead = fake.add_lead("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test", ])
    with runtime.sessions.begin() as s:
        sent = record_sent_email(
            s, enrollment=s.get_one(Enrollment, enrollment), position=1, mailbox_id=1,
            to_addr="pat@example.test", subject="Hello Pat",
            body_html="<p>Hello Pat,</p><p>" + "word " * 400 + "</p>", sent_at=clock(),
            provider_message_id="m1", thread_id="t1", rfc_message_id="<m1@x>", references="")
        sent_id = sent.id
    push_all(runtime, rep)
    link = link_of(runtime, CrmLinkKind.SENT, sent_id)
    assert link.state == CrmLinkState.SYNCED
    logged = fake.tasks[link.sf_id or ""]
    assert logged["Subject"] == "Email: Hello Pat"
    assert (logged["Status"], logged["TaskSubtype"], logged["WhoId"]) == (
        "Completed", "Email", lead)
    assert logged["ActivityDate"] == "2026-11-24"
    assert logged["Description"].startswith("To: pat@example.test\n\nHello Pat,\n\nword word")
    excerpt = logged["Description"].split("\n\n", 1)[1].split("\n\n[sync-key")[0]
    assert len(excerpt) == 1000 and excerpt.endswith("…")


def test_activity_for_someone_not_in_salesforce_is_skipped(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["nobody@example.test"])
    with runtime.sessions.begin() as s:
        sent = record_sent_email(
            s, enrollment=s.get_one(Enrollment, enrollment), position=1, mailbox_id=1,
            to_addr="nobody@example.test", subject="Hi", body_html="<p>Hi</p>",
            sent_at=clock(), provider_message_id=None, thread_id=None, rfc_message_id=None,
            references="")
        sent_id = sent.id
    report = push_all(runtime, rep)
    assert report.skipped == 1
    link = link_of(runtime, CrmLinkKind.SENT, sent_id)
    assert link.state == CrmLinkState.SKIPPED
    assert link.last_error == "no Contact or Lead with the address nobody@example.test"
    assert [t["Subject"] for t in fake.live_tasks()] == ["Call (step 1, day 1) · Q4 calls"]


def test_a_detected_reply_is_logged_through_the_sweep(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    contact = fake.add_contact("pat@example.test")
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    push_all(runtime, rep)
    with runtime.sessions.begin() as s:
        e = s.get_one(Enrollment, enrollment)
        reply = feed.record(s, org_id=e.org_id, type=feed.REPLIED, at=clock(),
                            rep_id=e.rep_id, campaign_id=e.campaign_id, enrollment_id=e.id,
                            person_id=e.person_id, subject="Re: Hello Pat",
                            snippet="Sounds good, call me Tuesday.")
        s.flush()
        reply_id = reply.id
    recorder = Recorder()
    report = sweep.sweep(runtime, recorder)
    assert report.adopted == 1
    link = link_of(runtime, CrmLinkKind.REPLY, reply_id)
    assert recorder.pushes == [link.id]
    assert jobs.run_push_link(runtime, link.id).pushed == 1
    logged = fake.tasks[link_of(runtime, CrmLinkKind.REPLY, reply_id).sf_id or ""]
    assert (logged["Subject"], logged["WhoId"], logged["Status"]) == (
        "Reply: Re: Hello Pat", contact, "Completed")
    assert logged["Description"].startswith(
        "From: pat@example.test\n\nSounds good, call me Tuesday.")
    assert sweep.sweep(runtime, Recorder()).adopted == 0  # once


# --- the RQ wiring ----------------------------------------------------------------------------


def test_jobs_are_enqueued_after_commit_and_a_worker_pushes_them(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, redis: Redis) -> None:
    from addin_server.workers.runtime import install_runtime

    settings = runtime.settings
    install_runtime(runtime)  # the worker's jobs use the test's runtime (and frozen clock)
    connect(rep, fake)
    conn_id = connection(runtime, rep).id
    queue = Queue(settings.queue_name, connection=redis)
    redis.delete(f"rq:job:crm-batch-{conn_id}")
    queue.empty()
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    assert queue.job_ids == [f"crm-batch-{conn_id}"]
    SimpleWorker([queue], connection=redis).work(burst=True)
    [made] = fake.live_tasks()
    task = open_task(runtime, enrollment)
    rep.post(f"/api/v1/tasks/{task.id}/complete")
    link = link_of(runtime, CrmLinkKind.TASK, task.id)
    assert f"crm-{link.id}" in queue.job_ids
    assert not jobs.enqueue_push(redis, settings.queue_name, link.id, 60)  # unique: dropped
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert made["Status"] == "Completed"
    assert link_of(runtime, CrmLinkKind.TASK, task.id).state == CrmLinkState.SYNCED
    assert jobs.enqueue_push(redis, settings.queue_name, link.id, 60)  # result_ttl=0: id free


def test_a_rep_connecting_later_gets_open_tasks_not_old_history(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)  # the organisation has Salesforce
    bob = make_actor(runtime, rep.client, "bob@acme.test")
    [first, second] = launch(bob, campaign(bob), ["a@example.test", "b@example.test"])
    done = open_task(runtime, first)
    bob.post(f"/api/v1/tasks/{done.id}/complete")
    with runtime.sessions.begin() as s:
        sent = record_sent_email(
            s, enrollment=s.get_one(Enrollment, first), position=0, mailbox_id=1,
            to_addr="a@example.test", subject="Hi", body_html="<p>Hi</p>", sent_at=clock(),
            provider_message_id=None, thread_id=None, rfc_message_id=None, references="")
        sent_id = sent.id
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pushes == recorder.batches == []  # Bob's rows wait for Bob
    assert link_of(runtime, CrmLinkKind.SENT, sent_id).state == CrmLinkState.PENDING
    assert connect(bob, fake).status_code == 200
    report = push_all(runtime, bob)
    assert report.created == 2
    subjects = sorted(t["Subject"] for t in fake.live_tasks())
    assert subjects == ["Call (step 1, day 1) · Q4 calls",
                        "Send email (step 2, day 2) · Q4 calls"]
    assert link_of(runtime, CrmLinkKind.SENT, sent_id).state == CrmLinkState.SKIPPED
    assert link_of(runtime, CrmLinkKind.TASK, done.id).state == CrmLinkState.SKIPPED
    assert link_of(runtime, CrmLinkKind.TASK, open_task(runtime, second).id).sf_id


def test_the_crm_sync_command_runs_a_pass(app: Any, runtime: Runtime, rep: Actor,
                                          fake: FakeSalesforce) -> None:
    from addin_server.cli import register_commands

    register_commands(app)
    connect(rep, fake)
    launch(rep, campaign(rep), ["pat@example.test"])
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["crm-sync", "--once", "--inline"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "crm-sync: adopted 0, pushes 1, batches 0, pulls 1"
    assert len(fake.live_tasks()) == 1
    assert connection(runtime, rep).pulled_at is not None


def test_an_automatic_send_through_the_pipeline_is_logged(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    """The send pipeline's job records the SentMessage; its commit hands the log to RQ, and
    the same worker burst pushes it."""
    from tests.support.sending import cycle, email_step, only_send

    connect(rep, fake)
    contact = fake.add_contact("pat@example.test")
    cid = campaign(rep, [email_step(1)])
    launch(rep, cid, ["pat@example.test"])
    clock.advance(hours=1)
    cycle(runtime, rounds=1)
    send = only_send(runtime)
    assert send.state.value == "sent"
    with runtime.sessions() as s:
        sent_id = s.scalar(select(SentMessage.id))
    assert sent_id is not None
    link = link_of(runtime, CrmLinkKind.SENT, sent_id)
    assert link.state == CrmLinkState.SYNCED
    logged = fake.tasks[link.sf_id or ""]
    assert (logged["Subject"], logged["WhoId"], logged["Status"]) == (
        "Email: Hello Pat", contact, "Completed")
    assert logged["Description"].startswith("To: pat@example.test\n\nHi Pat, a note from us.")


def test_a_rotated_refresh_token_is_kept(runtime: Runtime, rep: Actor,
                                         fake: FakeSalesforce) -> None:
    fake.rotate_refresh_tokens = True
    connect(rep, fake)
    [first] = fake.refresh_tokens
    launch(rep, campaign(rep), ["a@example.test"])
    fake.expire_access_tokens()
    assert push_all(runtime, rep).pushed == 1
    [second] = fake.refresh_tokens
    assert second != first
    conn = connection(runtime, rep)
    assert conn.refresh_token is not None
    assert crypto.decrypt(runtime.settings, conn.refresh_token) == second
    fake.expire_access_tokens()  # the next refresh must use the new one
    launch(rep, campaign(rep), ["b@example.test"])
    assert push_all(runtime, rep).pushed == 1
    assert connection(runtime, rep).status == CrmStatus.CONNECTED


def test_two_jobs_refreshing_a_rotating_grant_do_not_disconnect(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    from addin_server.crm.connections import Reading

    fake.rotate_refresh_tokens = True
    connect(rep, fake)
    conn = connection(runtime, rep)
    first = open_crm(runtime, conn, Reading())
    second = open_crm(runtime, conn, Reading())  # opened with the same (soon old) grant
    fake.expire_access_tokens()
    assert first.find_people(["a@example.test"]) == {}
    assert second.find_people(["a@example.test"]) == {}  # old grant refused: uses the stored
    assert fake.calls("POST", "/services/oauth2/token") == 4  # code, refresh, refused, refresh
    [current] = fake.refresh_tokens
    stored = connection(runtime, rep).refresh_token
    assert stored is not None and crypto.decrypt(runtime.settings, stored) == current


def test_note_reply_links_in_the_same_transaction(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    from addin_server.crm import outbox

    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])

    def replied() -> int:
        with runtime.sessions.begin() as s:
            e = s.get_one(Enrollment, enrollment)
            event = feed.record(s, org_id=e.org_id, type=feed.REPLIED, at=clock(),
                                rep_id=e.rep_id, person_id=e.person_id, subject="Re: Hi")
            s.flush()
            outbox.note_reply(s, event)
            return event.id

    before = replied()  # no Salesforce in this organisation yet: no row
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).where(CrmLink.local_id == before,
                                                   CrmLink.kind == CrmLinkKind.REPLY)) == 0
    connect(rep, fake)
    after = replied()
    link = link_of(runtime, CrmLinkKind.REPLY, after)
    assert (link.state, link.rep_id, link.version) == (CrmLinkState.PENDING, rep.rep_id, 1)


def test_a_declined_consent_is_said_plainly(rep: Actor, fake: FakeSalesforce) -> None:
    answer = rep.client.get("/crm/salesforce/callback?error=access_denied"
                            "&error_description=end-user+denied+authorization")
    assert answer.status_code == 400
    assert b"end-user denied authorization" in answer.data
    assert answer.mimetype == "text/html"


def test_disconnect_from_the_web_session_needs_the_csrf_token(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    import re

    connect(rep, fake)
    web = rep.client
    with web.session_transaction() as web_session:
        web_session["rep_id"] = rep.rep_id
        web_session["session_version"] = 1
    refused = web.post("/crm/salesforce/disconnect")
    assert refused.status_code == 401
    assert connection(runtime, rep).status == CrmStatus.CONNECTED
    page = web.get("/campaigns").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match is not None
    done = web.post("/crm/salesforce/disconnect", headers={"X-CSRFToken": match.group(1)})
    assert done.status_code == 200, done.json
    assert connection(runtime, rep).status == CrmStatus.DISCONNECTED


def test_rotate_keys_then_every_stored_secret_still_works(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    """The rotation steps of docs/configuration.md: new key first, rotate-keys, old key removed;
    then every kind of stored secret is used: Salesforce access and refresh tokens, a Google
    grant and a Microsoft token cache."""
    import json

    from addin_server.cli.keys import rotate_secrets
    from addin_server.enums import MailboxProvider
    from addin_server.mailboxes.credentials import load_google, load_microsoft
    from addin_server.models import Mailbox

    connect(rep, fake)
    old = runtime.settings
    with runtime.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL, address="g@acme.test",
                      credentials=crypto.encrypt(old, json.dumps(
                          {"kind": "google", "refresh_token": "1//r", "scopes": []}))))
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.MICROSOFT,
                      address="m@acme.test", credentials=crypto.encrypt(old, json.dumps(
                          {"kind": "microsoft", "cache": '{"RefreshToken": {"x": {}}}',
                           "home_account_id": "h", "username": "m@acme.test"}))))
    new_key = crypto.new_key()
    with runtime.sessions.begin() as s:
        assert rotate_secrets(s, old.with_(encryption_keys=(new_key, KEY))) == 4
    runtime.settings = old.with_(encryption_keys=(new_key,))
    launch(rep, campaign(rep), ["pat@example.test"])
    assert push_all(runtime, rep).pushed == 1  # the access token opens
    fake.expire_access_tokens()
    launch(rep, campaign(rep), ["sam@example.test"])
    assert push_all(runtime, rep).pushed == 1  # so does the refresh token
    assert fake.calls("POST", "/services/oauth2/token") == 2
    with runtime.sessions() as s:
        google, microsoft = (s.scalar(select(Mailbox).where(Mailbox.provider == p))
                             for p in (MailboxProvider.GMAIL, MailboxProvider.MICROSOFT))
        assert google is not None and microsoft is not None
        assert load_google(runtime.settings, google).refresh_token == "1//r"
        assert load_microsoft(runtime.settings, microsoft).home_account_id == "h"
