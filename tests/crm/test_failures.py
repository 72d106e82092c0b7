"""What a failed Salesforce call leaves behind (issue 20): REQUEST_LIMIT_EXCEEDED holds the
connection whether a push or a pull met it (Salesforce's 403 carries no Sforce-Limit-Info
header), and every failure is said: the log names Salesforce's error code and the rows (never
a token), and the rep's Salesforce status shows the last one."""

from __future__ import annotations

import logging

import pytest
import requests
from sqlalchemy import select

from addin_server.crm import records, sweep
from addin_server.crm.pull import pull
from addin_server.enrollments import tasks
from addin_server.enums import CrmLinkKind, CrmLinkState
from addin_server.models import CrmLink
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.crm import test_sync
from tests.crm.test_sync import (
    Recorder,
    campaign,
    connect,
    connection,
    launch,
    link_of,
    open_task,
    push_all,
)
from tests.fakes.salesforce import API, FakeSalesforce
from tests.web.test_pages import sign_in_as

# The Salesforce sync tests' fixtures: the fake on 127.0.0.1, settings pointing at it, a clean
# Redis.
fake = test_sync.fake
settings = test_sync.settings
redis = test_sync.redis


def test_the_fake_answers_limit_exceeded_as_salesforce_documents(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce) -> None:
    connect(rep, fake)
    [token] = fake.access_tokens
    fake.api_used = fake.api_limit
    answer = requests.get(f"{fake.instance_url}/services/data/{API}/limits",
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 403
    assert answer.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Sforce-Limit-Info" not in answer.headers


def test_a_pull_that_meets_limit_exceeded_holds_the_connection(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock) -> None:
    connect(rep, fake)
    conn_id = connection(runtime, rep).id
    fake.api_used = fake.api_limit  # the next call is refused
    pull(runtime, conn_id, tasks=tasks)
    conn = connection(runtime, rep)
    assert conn.hold_until == clock() + records.LIMIT_EXCEEDED_WAIT
    assert conn.last_error_code == "REQUEST_LIMIT_EXCEEDED"
    assert conn.last_error.startswith("pull: ")
    calls = len(fake.log)
    clock.advance(seconds=runtime.settings.salesforce_poll_seconds)
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pulls == recorder.pushes == recorder.batches == []
    pull(runtime, conn_id, tasks=tasks)  # a pull started anyway (a job queued before) waits
    assert len(fake.log) == calls
    clock.advance(hours=1, minutes=1)
    fake.api_used = 100
    recorder = Recorder()
    sweep.sweep(runtime, recorder)
    assert recorder.pulls == [conn_id]


def test_a_failed_push_names_the_code_and_the_rows_and_the_status_shows_it(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce, clock: FrozenClock,
        caplog: pytest.LogCaptureFixture) -> None:
    connect(rep, fake)
    [enrollment] = launch(rep, campaign(rep), ["pat@example.test"])
    link = link_of(runtime, CrmLinkKind.TASK, open_task(runtime, enrollment).id)
    fake.api_used = fake.api_limit
    with caplog.at_level(logging.INFO):
        assert push_all(runtime, rep).deferred == 1
    [line] = [r.getMessage() for r in caplog.records if "CRM push" in r.getMessage()]
    assert "REQUEST_LIMIT_EXCEEDED" in line and f"rows: {link.id}" in line
    secrets = fake.access_tokens | fake.refresh_tokens
    assert secrets and not any(s in caplog.text for s in secrets)
    status = rep.get("/crm/salesforce").json
    assert status["last_error"]["code"] == "REQUEST_LIMIT_EXCEEDED"
    assert f"(rows {link.id})" in status["last_error"]["message"]
    assert status["last_error"]["at"] is not None
    assert status["held_until"] is not None
    # The Salesforce page says these instants in the one date style, in the rep's zone.
    sign_in_as(rep.client, rep)
    page = rep.client.get("/salesforce").get_data(as_text=True)
    assert f'Held until</dt><dd><time datetime="{status["held_until"]}"' in page
    assert f'<time datetime="{status["last_error"]["at"]}"' in page
    assert status["held_until"] + "<" not in page and "(a limit back-off)" in page


def test_rows_salesforce_refuses_are_logged_with_the_code(
        runtime: Runtime, rep: Actor, fake: FakeSalesforce,
        caplog: pytest.LogCaptureFixture) -> None:
    fake.key_field = runtime.settings.salesforce_key_field  # a plain text field
    connect(rep, fake)
    enrollments = launch(rep, campaign(rep), ["pat@example.test", "sam@example.test"])
    assert push_all(runtime, rep).pushed == 2
    fake.key_field = None  # an admin deleted the field: every write naming it is refused
    for enrollment in enrollments:
        rep.post(f"/api/v1/tasks/{open_task(runtime, enrollment).id}/complete")
    with caplog.at_level(logging.INFO):
        report = push_all(runtime, rep)
    assert report.failed >= 2
    with runtime.sessions() as s:
        failed = sorted(s.scalars(select(CrmLink.id).where(
            CrmLink.state == CrmLinkState.FAILED)))
    lines = [r.getMessage() for r in caplog.records if "INVALID_FIELD" in r.getMessage()]
    assert lines and all(f"{i}" in " ".join(lines) for i in failed)
    status = rep.get("/crm/salesforce").json
    assert status["last_error"]["code"] == "INVALID_FIELD"
    assert "No such column" in status["last_error"]["message"]
