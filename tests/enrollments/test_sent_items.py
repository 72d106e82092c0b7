"""Email tasks written in Outlook, found in Sent Items: the pure matching rule, then the use case
that records the message and completes the task (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select

from addin_server.enrollments.sent_items import (
    Match,
    OpenEmailTask,
    complete_from_sent,
    match_sent,
)
from addin_server.enums import TaskStatus
from addin_server.mailboxes.graph import sent_items_from_graph
from addin_server.mailboxes.port import SentItem
from addin_server.models import Mailbox, SentMessage, Task
from addin_server.runtime import Runtime
from tests.conftest import FrozenClock, load_rep, make_actor

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def sent(mid: str, to: str, subject: str, minutes: int, thread: str | None = None) -> SentItem:
    return SentItem(message_id=mid, to=(to,), subject=subject,
                    sent_at=T0 + timedelta(minutes=minutes), thread_id=thread)


def task(tid: int, to: str, subject: str, minutes: int = 0,
         thread: str | None = None) -> OpenEmailTask:
    return OpenEmailTask(task_id=tid, to=to, subject=subject,
                         opened_at=T0 + timedelta(minutes=minutes), thread_id=thread)


def pairs(matches: list[Match]) -> list[tuple[int, str]]:
    return [(m.task_id, m.message.message_id) for m in matches]


def test_recipient_and_subject_must_both_fit() -> None:
    tasks = [task(1, "bob@client.test", "Intro for Client Co")]
    assert pairs(match_sent([sent("a", "carol@client.test", "Intro for Client Co", 5)],
                            tasks)) == []
    assert pairs(match_sent([sent("b", "bob@client.test", "Lunch?", 5)], tasks)) == []
    assert pairs(match_sent([sent("c", "BOB@client.test", "  intro  for client co ", 5)],
                            tasks)) == [(1, "c")]


def test_messages_sent_before_the_task_opened_do_not_count() -> None:
    tasks = [task(1, "bob@client.test", "Intro", minutes=60)]
    assert pairs(match_sent([sent("old", "bob@client.test", "Intro", 10)], tasks)) == []
    # A little clock skew between us and the mail server is tolerated.
    assert pairs(match_sent([sent("new", "bob@client.test", "Intro", 59)], tasks)) == \
        [(1, "new")]


def test_prompts_match_what_the_rep_wrote() -> None:
    tasks = [task(1, "bob@client.test", "About {{! their product }} at Client Co")]
    assert pairs(match_sent([sent("a", "bob@client.test", "About Widgets Pro at Client Co", 1)],
                            tasks)) == [(1, "a")]
    assert pairs(match_sent([sent("b", "bob@client.test", "About at Client Co", 1)],
                            tasks)) == []


def test_reply_matches_by_subject_prefix_or_by_conversation() -> None:
    reply = task(1, "bob@client.test", "Re: Intro", thread="conv-1")
    # Outlook's reply form writes "RE:".
    assert pairs(match_sent([sent("a", "bob@client.test", "RE: Intro", 1)], [reply])) == \
        [(1, "a")]
    # The rep retitled the reply, but it is in the same conversation.
    assert pairs(match_sent([sent("b", "bob@client.test", "Quick question", 1, "conv-1")],
                            [reply])) == [(1, "b")]
    assert pairs(match_sent([sent("c", "bob@client.test", "Quick question", 1, "conv-2")],
                            [reply])) == []


def test_one_message_per_task_and_one_task_per_message() -> None:
    # Two campaigns gave Bob tasks with the same subject; two messages went out.
    tasks = [task(2, "bob@client.test", "Intro", minutes=5), task(1, "bob@client.test", "Intro")]
    messages = [sent("late", "bob@client.test", "Intro", 30),
                sent("early", "bob@client.test", "Intro", 10)]
    assert pairs(match_sent(messages, tasks)) == [(1, "early"), (2, "late")]
    # Only one message: only the task opened first completes.
    assert pairs(match_sent(messages[:1], tasks)) == [(1, "late")]


def test_use_case_records_the_message_and_completes_once(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    ann = make_actor(runtime, client, "ann@acme.test")
    steps = [
        {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Intro {{company}}",
         "body_html": "<p>Hi {{first_name}}</p>"},
        {"day": 2, "type": "call"},
    ]
    cid = ann.post("/api/v1/campaigns", json={"name": "Q4", "timezone": "UTC",
                                               "steps": steps}).json["id"]
    ann.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [
        {"email": "bob@client.test", "first_name": "Bob", "company": "Client"},
        {"email": "carol@client.test", "first_name": "Carol", "company": "Other"}]})
    clock.advance(minutes=30)
    message = SentItem(message_id="AAMkAD-77", to=("bob@client.test",), subject="Intro Client",
                       sent_at=clock(), thread_id="conv-9", rfc_message_id="<x@outlook.test>",
                       body_html="<p>Hi Bob, edited</p>")
    unrelated = SentItem(message_id="AAMkAD-78", to=("carol@client.test",), subject="Lunch",
                         sent_at=clock())
    for _ in range(2):  # the sync job may see the same Sent Items twice
        with runtime.sessions.begin() as s:
            rep = load_rep(s, ann)
            box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
            assert box is not None
            complete_from_sent(s, rep, box, [message, unrelated], clock(),
                               base_url="https://campaigns.example.test",
                               secret_key="test-secret")
    with runtime.sessions() as s:
        rows = s.execute(select(Task.position, Task.status, Task.type)
                         .order_by(Task.id)).all()
        assert [(p, st.value, ty.value) for p, st, ty in rows] == [
            (0, "completed", "email"), (0, "open", "email"), (1, "open", "call")]
        assert s.scalar(select(func.count()).select_from(SentMessage)) == 1
        recorded = s.scalar(select(SentMessage))
        assert recorded is not None
        assert (recorded.position, recorded.to_addr, recorded.provider_message_id,
                recorded.thread_id, recorded.rfc_message_id, recorded.body_html) == (
            0, "bob@client.test", "AAMkAD-77", "conv-9", "<x@outlook.test>",
            "<p>Hi Bob, edited</p>")
        assert s.scalar(select(func.count()).select_from(Task)
                        .where(Task.status == TaskStatus.COMPLETED)) == 1


def test_graph_sent_items_are_read_from_graphs_json() -> None:
    # The shape of GET /me/mailFolders/sentitems/messages?$select=... (Graph v1.0).
    listing = {"value": [
        {"id": "AAMkADg=", "subject": "Intro Client", "sentDateTime": "2026-11-24T09:30:05Z",
         "conversationId": "AAQkADc=", "internetMessageId": "<ab@eurprd.prod.outlook.com>",
         "toRecipients": [{"emailAddress": {"name": "Bob", "address": "bob@client.test"}},
                          {"emailAddress": {"name": "Cc-less", "address": "x@client.test"}}],
         "body": {"contentType": "html", "content": "<html><body>Hi</body></html>"}},
        {"id": "AAMkADh=", "subject": "Draft", "sentDateTime": None, "toRecipients": []},
        {"id": "AAMkADi=", "subject": None, "sentDateTime": "2026-11-24T10:00:00Z",
         "toRecipients": [], "body": {"contentType": "text", "content": "plain"}},
    ]}
    items = sent_items_from_graph(listing["value"])
    assert items == [
        SentItem(message_id="AAMkADg=", to=("bob@client.test", "x@client.test"),
                 subject="Intro Client", sent_at=datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC),
                 thread_id="AAQkADc=", rfc_message_id="<ab@eurprd.prod.outlook.com>",
                 body_html="<html><body>Hi</body></html>"),
        SentItem(message_id="AAMkADi=", to=(), subject="",
                 sent_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
    ]


def test_a_recorded_message_never_completes_the_next_reply_task(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    ann = make_actor(runtime, client, "ann@acme.test")
    steps = [
        {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Intro",
         "body_html": "<p>Hi</p>"},
        {"day": 1, "type": "email", "send_option": "manual_task", "reply_to_previous": True,
         "body_html": "<p>Again</p>"},
    ]
    cid = ann.post("/api/v1/campaigns", json={"name": "Q4", "timezone": "UTC",
                                               "steps": steps}).json["id"]
    ann.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [{"email": "bob@client.test"}]})
    message = SentItem(message_id="m-1", to=("bob@client.test",), subject="Intro",
                       sent_at=clock(), thread_id="conv-1", rfc_message_id="<m1@x.test>")
    completed = []
    for _ in range(2):  # the second sweep sees the reply task, in the message's conversation
        with runtime.sessions.begin() as s:
            rep = load_rep(s, ann)
            box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
            assert box is not None
            completed += [m.task_id for m in complete_from_sent(
                s, rep, box, [message], clock(), base_url="https://campaigns.example.test",
                secret_key="test-secret")]
    with runtime.sessions() as s:
        statuses = s.execute(select(Task.id, Task.position, Task.status)
                             .order_by(Task.id)).all()
    assert [(p, st.value) for _, p, st in statuses] == [(0, "completed"), (1, "open")]
    assert completed == [statuses[0][0]]
