"""Email tasks written in Outlook complete from the rep's Sent Items: the real Graph adapter
(msal + requests) against the fake Microsoft (Entra + Graph over TLS on 127.0.0.1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.enrollments.sent_items import reps_to_sync, sync_rep
from addin_server.enums import TaskStatus
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.graph import GraphMailbox
from addin_server.mailboxes.port import OutgoingMessage
from addin_server.models import Mailbox, SentMessage, Task
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.fixtures import connected_microsoft_row
from tests.fakes.microsoft import MicrosoftFake

REP = "mia@contoso.test"


def _setup(rt: Runtime, fake: MicrosoftFake, clock: FrozenClock) -> tuple[Actor, Mailbox]:
    fake.clock = clock
    app = create_app(runtime=rt)
    mia = make_actor(rt, app.test_client(), REP, local_mailbox=False)
    row = connected_microsoft_row(rt.settings, fake, REP, rep_id=mia.rep_id)
    with rt.sessions.begin() as s:
        row.created_at = row.updated_at = rt.now()
        s.add(row)
    steps = [{"day": 1, "type": "email", "send_option": "manual_task",
              "subject": "Intro for {{company}}", "body_html": "<p>Hi {{first_name}}</p>"},
             {"day": 2, "type": "email", "send_option": "manual_task", "reply_to_previous": True,
              "body_html": "<p>Following up</p>"}]
    cid = mia.post("/api/v1/campaigns", json={"name": "Q4", "timezone": "UTC",
                                              "steps": steps}).json["id"]
    launched = mia.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [
        {"email": "zoe@corp.test", "first_name": "Zoe", "company": "Corp"},
        {"email": "yan@corp.test", "first_name": "Yan", "company": "Other"}]})
    assert launched.status_code == 201, launched.json
    return mia, row


def _send_from_outlook(rt: Runtime, row: Mailbox, to: str, subject: str, html: str) -> Any:
    """What Outlook does when the rep presses Send: the message lands in Sent Items."""
    mailbox = open_mailbox(rt, None, row)  # type: ignore[arg-type]
    assert isinstance(mailbox, GraphMailbox)
    message = OutgoingMessage(send_id="outlook", from_addr=REP, from_name="Mia", to_addr=to,
                              subject=subject, html=html, text="")
    return mailbox.send_draft(mailbox.create_draft(message))


def test_sent_from_outlook_completes_the_task_and_threads_the_next(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    mia, row = _setup(graph_runtime, microsoft_fake, clock)
    clock.advance(minutes=20)
    sent = _send_from_outlook(graph_runtime, row, "zoe@corp.test", "Intro for Corp",
                              "<p>Hi Zoe, written in Outlook</p>")
    _send_from_outlook(graph_runtime, row, "yan@corp.test", "Something else", "<p>Hi</p>")
    with graph_runtime.sessions() as s:
        assert reps_to_sync(s) == [mia.rep_id]
    matches = sync_rep(graph_runtime, mia.rep_id)
    assert [m.message.message_id for m in matches] == [sent.message_id]
    assert sync_rep(graph_runtime, mia.rep_id) == []  # nothing left to match
    with graph_runtime.sessions() as s:
        rows = s.execute(select(Task.position, Task.status).order_by(Task.id)).all()
        assert [(p, st) for p, st in rows] == [
            (0, TaskStatus.COMPLETED), (0, TaskStatus.OPEN), (1, TaskStatus.OPEN)]
        recorded = s.scalar(select(SentMessage))
        assert recorded is not None
        assert (recorded.provider_message_id, recorded.rfc_message_id, recorded.thread_id) == (
            sent.message_id, sent.rfc_message_id, sent.thread_id)
        assert "written in Outlook" in recorded.body_html
    # Zoe's follow-up is a reply on the message the rep sent from Outlook.
    follow_up = [t for t in mia.get("/api/v1/tasks").json["tasks"] if t["position"] == 1]
    composed = mia.get(f"/api/v1/tasks/{follow_up[0]['id']}/compose").json
    assert composed["reply_to"]["message_id"] == sent.rfc_message_id
    assert composed["subject"] == "Re: Intro for Corp"


def test_the_command_syncs_every_rep(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    _setup(graph_runtime, microsoft_fake, clock)
    _send_from_outlook(graph_runtime, _row(graph_runtime), "yan@corp.test", "Intro for Other",
                       "<p>Hi Yan</p>")
    app = create_app(runtime=graph_runtime)
    register_commands(app)
    result = app.test_cli_runner().invoke(args=["sync-sent-tasks"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 task(s) completed for 1 rep(s) checked"
    # the old Outlook-only command is an alias of the same pass (a cron entry keeps working)
    again = app.test_cli_runner().invoke(args=["sync-outlook-sent"])
    assert again.output.strip() == "0 task(s) completed for 1 rep(s) checked"


def test_a_graph_failure_changes_nothing(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    mia, row = _setup(graph_runtime, microsoft_fake, clock)
    _send_from_outlook(graph_runtime, row, "zoe@corp.test", "Intro for Corp", "<p>Hi</p>")
    microsoft_fake.revoke(REP)
    assert sync_rep(graph_runtime, mia.rep_id) == []
    with graph_runtime.sessions() as s:
        assert s.scalar(select(Task.status).where(Task.position == 0).order_by(Task.id)
                        .limit(1)) == TaskStatus.OPEN


def _row(rt: Runtime) -> Mailbox:
    with rt.sessions() as s:
        row = s.scalar(select(Mailbox).where(Mailbox.address == REP))
        assert row is not None
        s.expunge(row)
        return row


def test_the_dispatchers_duty_completes_outlook_tasks_with_no_cron(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    from rq import Queue, SimpleWorker

    from addin_server.workers.duties import DUTIES
    from addin_server.workers.runtime import install_runtime
    from addin_server.workers.sent_items import SYNC_JOB_ID, THROTTLE_KEY, schedule_sync

    _, row = _setup(graph_runtime, microsoft_fake, clock)
    clock.advance(minutes=20)
    _send_from_outlook(graph_runtime, row, "zoe@corp.test", "Intro for Corp", "<p>Hi Zoe</p>")
    redis = graph_runtime.redis()
    queue = Queue(graph_runtime.settings.queue_name, connection=redis)
    queue.empty()
    redis.delete(THROTTLE_KEY, f"rq:job:{SYNC_JOB_ID}")
    assert schedule_sync in [duty.run for duty in DUTIES]
    assert schedule_sync(graph_runtime, graph_runtime.now())  # a Microsoft mailbox is enough
    assert not schedule_sync(graph_runtime, graph_runtime.now())  # throttled
    assert queue.job_ids == [SYNC_JOB_ID]
    install_runtime(graph_runtime)
    SimpleWorker([queue], connection=redis).work(burst=True)
    with graph_runtime.sessions() as s:
        statuses = s.scalars(select(Task.status).where(Task.position == 0).order_by(Task.id))
        assert list(statuses) == [TaskStatus.COMPLETED, TaskStatus.OPEN]
