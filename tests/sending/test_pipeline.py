"""The send pipeline in one process: dispatcher tick, RQ (real Redis, SimpleWorker), the job,
the local development mailbox. Both databases."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import (
    Enrollment,
    Event,
    LocalMessage,
    Mailbox,
    Send,
    SendLog,
    SentMessage,
)
from addin_server.runtime import Runtime
from addin_server.sending import dispatcher as dispatch
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import (
    cycle,
    drain,
    email_step,
    history,
    launch,
    make_campaign,
    only_send,
    people,
    states,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _parsed(row: LocalMessage) -> email.message.EmailMessage:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_due_send_goes_out_once_and_the_reply_threads_on_it(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [
        email_step(1, subject="Quick question, {{first_name}}"),
        email_step(2, send_option="same_time_as_previous", reply_to_previous=True, subject="",
                   body_html="<p>Following up.</p>"),
    ])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    # Due 09:30 Paris = 08:30 UTC; the clock is 08:00 UTC: nothing goes yet.
    assert dispatch.tick(runtime).promoted == 0
    clock.advance(minutes=31)
    result = dispatch.tick(runtime)
    assert result.promoted == 1
    assert dispatch.tick(runtime).promoted == 0  # queued once, not twice
    assert drain(runtime) == 1
    first = only_send(runtime, 0)
    assert first.state == SendState.SENT
    assert first.subject == "Quick question, Zoe"
    assert first.rfc_message_id and first.rfc_message_id.startswith("<")
    assert [t for _, t in history(runtime, first.id)] == ["queued", "sending", "sent"]
    with runtime.sessions() as s:  # the draft it sent is on the row and in the history
        note = s.scalars(select(SendLog.note).where(SendLog.send_id == first.id)
                         .order_by(SendLog.id.desc())).first()
    assert first.draft_id and note == f"message {first.provider_message_id} " \
                                      f"(draft {first.draft_id})"
    with runtime.sessions() as s:
        (msg1,) = s.scalars(select(LocalMessage)).all()
        assert msg1.is_draft is False
        parsed = _parsed(msg1)
        assert parsed["X-Campaign-Send-Id"] == str(first.id)
        assert parsed["Message-ID"] == first.rfc_message_id
        assert parsed["To"] == "zoe@corp.test"
        assert parsed["List-Unsubscribe"].startswith("<https://campaigns.example.test/u/")
        second = s.scalar(select(Send).where(Send.position == 1))
        assert second is not None and second.state == SendState.SCHEDULED
        assert second.due_at.isoformat() == "2026-11-25T08:30:00+00:00"
        types = [e.type for e in s.scalars(select(Event).order_by(Event.id))]
        assert feed.EMAIL_SENT in types
    clock.advance(days=1)
    cycle(runtime, 1)
    second = only_send(runtime, 1)
    assert second.state == SendState.SENT
    assert second.subject == "Re: Quick question, Zoe"
    with runtime.sessions() as s:
        msg2 = s.scalar(select(LocalMessage).where(LocalMessage.send_id == str(second.id)))
        assert msg2 is not None
        parsed2 = _parsed(msg2)
        assert parsed2["In-Reply-To"] == first.rfc_message_id
        assert parsed2["References"] == first.rfc_message_id
        assert msg2.thread_id == msg1.thread_id
        text = parsed2.get_body(preferencelist=("plain",))
        assert text is not None and "Hi Zoe, a note from us." in text.get_content()
        # The quoted header: the rep's zone (Paris, sent 08:31 UTC), their name and address.
        sender = s.get(Mailbox, msg1.mailbox_id)
        assert sender is not None
        name = rep.email.split("@")[0].title()
        assert (f"On Tue, 24 Nov 2026 at 09:31, {name} <{sender.address}> wrote:"
                in text.get_content())
        sent2 = s.scalar(select(SentMessage).where(SentMessage.position == 1))
        assert sent2 is not None and sent2.references == first.rfc_message_id
        enrollment = s.scalar(select(Enrollment))
        assert enrollment is not None and enrollment.status == EnrollmentStatus.FINISHED


def test_missing_field_holds_the_send(runtime: Runtime, rep: Actor, clock: FrozenClock) -> None:
    cid = make_campaign(rep, [email_step(1, body_html="<p>About {{company}}</p>")])
    launch(rep, cid, [{"email": "a@corp.test"}])
    clock.advance(hours=1)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.HELD
    assert "company" in send.reason
    with runtime.sessions() as s:
        assert s.scalar(select(LocalMessage)) is None
        held = s.scalar(select(Event).where(Event.type == feed.EMAIL_HELD))
        assert held is not None and held.send_id == send.id


def test_job_leaves_a_send_whose_enrollment_was_paused(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep)
    (eid,) = launch(rep, cid, [{"email": "a@corp.test", "first_name": "A"}])
    clock.advance(hours=1)
    assert dispatch.tick(runtime).promoted == 1
    assert rep.post(f"/api/v1/enrollments/{eid}/pause").status_code == 200
    drain(runtime)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED
    assert send.reason == "enrollment is paused"
    assert dispatch.tick(runtime).promoted == 0  # not churned through Redis while paused
    assert rep.post(f"/api/v1/enrollments/{eid}/resume").status_code == 200
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.SENT


def test_requeues_a_queued_send_whose_job_vanished(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep)
    launch(rep, cid, people(3))
    clock.advance(hours=1)
    assert dispatch.tick(runtime).promoted == 3
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()  # Redis lost them
    assert dispatch.tick(runtime).requeued == 0  # too soon to call them lost
    clock.advance(seconds=runtime.settings.requeue_after_seconds + 1)
    assert dispatch.tick(runtime).requeued == 3
    drain(runtime)
    assert states(runtime) == {"sent": 3}


def test_expired_lease_is_reconciled_not_resent(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    """A worker died after the provider accepted the message, before it recorded that."""
    from addin_server.mailboxes.local import open_local
    from addin_server.models import Mailbox
    from addin_server.sending.job import _record_draft
    from addin_server.sending.outbox import claim

    cid = make_campaign(rep)
    launch(rep, cid, people(2))
    clock.advance(hours=1)
    ids = dispatch.tick(runtime).enqueued
    # Attempt on the first send: claimed, draft recorded, sent by the provider, then "crash".
    with runtime.sessions.begin() as s:
        send = s.get(Send, ids[0])
        assert send is not None
        assert claim(s, send, runtime.now(), runtime.settings.send_lease_seconds)
        from addin_server.sending.job import outgoing

        message = outgoing(s, runtime.settings, send)
        box = open_local(runtime, s, s.get(Mailbox, send.mailbox_id))  # type: ignore[arg-type]
    draft = box.create_draft(message)
    with runtime.sessions.begin() as s:
        assert _record_draft(s, runtime.now(), ids[0], 1, draft)
    box.send_draft(draft)
    # ...and the second send was claimed but its worker died before creating anything.
    with runtime.sessions.begin() as s:
        other = s.get(Send, ids[1])
        assert other is not None
        assert claim(s, other, runtime.now(), runtime.settings.send_lease_seconds)
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()
    clock.advance(seconds=runtime.settings.send_lease_seconds + 1)
    assert dispatch.tick(runtime).expired == 2
    assert states(runtime) == {"unknown": 2}
    assert dispatch.tick(runtime).reconciled_sent == 0  # grace period first
    clock.advance(seconds=runtime.settings.reconcile_grace_seconds + 1)
    result = dispatch.tick(runtime)
    assert (result.reconciled_sent, result.reconciled_retry) == (1, 1)
    drain(runtime)
    assert states(runtime) == {"sent": 2}
    with runtime.sessions() as s:
        sent_ids = sorted(m.send_id for m in s.scalars(
            select(LocalMessage).where(LocalMessage.is_draft.is_(False))))
        assert sent_ids == sorted([str(ids[0]), str(ids[1])])  # each once
        found = s.get(Send, ids[0])
        assert found is not None and found.rfc_message_id is not None
        assert s.scalar(select(SentMessage).where(SentMessage.rfc_message_id
                                                  == found.rfc_message_id)) is not None


def test_a_stale_job_hash_with_the_same_id_does_not_block_the_send(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    """A `send-<id>` hash left on another queue (or lost from ours) says `queued` but will
    never run: the dispatcher must not take it for a live job."""
    cid = make_campaign(rep)
    launch(rep, cid, people(1))
    send = only_send(runtime)
    other = Queue(f"{runtime.settings.queue_name}-other", connection=runtime.redis())
    other.enqueue("addin_server.workers.send.send_email", send.id, job_id=f"send-{send.id}")
    try:
        clock.advance(hours=1)
        assert dispatch.tick(runtime).promoted == 1
        assert drain(runtime) == 1
        assert only_send(runtime).state == SendState.SENT
        # And one on our queue's hash but missing from its list is found lost and re-enqueued.
        launch(rep, make_campaign(rep), people(1, prefix="q"))
        clock.advance(days=1)
        (second,) = dispatch.tick(runtime).enqueued
        runtime.redis().lrem(f"rq:queue:{runtime.settings.queue_name}", 0, f"send-{second}")
        clock.advance(seconds=runtime.settings.requeue_after_seconds + 1)
        assert dispatch.tick(runtime).requeued == 1
        drain(runtime)
        assert states(runtime) == {"sent": 2}
    finally:
        other.empty()


def test_sends_without_a_mailbox_wait_and_go_from_the_one_connected(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    from addin_server.enums import MailboxProvider
    from addin_server.mailboxes.state import reconnect_mailbox
    from addin_server.models import Mailbox

    actor = make_actor(runtime, client, "bo@acme.test", local_mailbox=False)
    cid = make_campaign(actor)
    launch(actor, cid, people(2))
    clock.advance(hours=1)
    assert dispatch.tick(runtime).promoted == 0
    listed = actor.get("/api/v1/sends").json["sends"]
    assert [s["reason"] for s in listed] == ["no mailbox connected: connect Gmail or Outlook "
                                             "to send"] * 2
    with runtime.sessions.begin() as s:
        box = Mailbox(rep_id=actor.rep_id, provider=MailboxProvider.LOCAL,
                      address="bo@acme.test", created_at=clock.at, updated_at=clock.at)
        s.add(box)
        s.flush()
        assert reconnect_mailbox(s, box, clock.at) == 2
    cycle(runtime, 1)
    assert states(runtime) == {"sent": 2}


def test_a_partial_job_hash_left_by_a_flush_does_not_break_the_dispatcher(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    """After FLUSHDB a worker finishing a job writes its heartbeat into a new, partial hash
    that RQ's Job.fetch cannot load; the dispatcher reads job states raw."""
    cid = make_campaign(rep)
    launch(rep, cid, people(2))
    first, second = sorted(s.id for s in _all_sends(runtime))
    redis = runtime.redis()
    redis.hset(f"rq:job:send-{first}", "last_heartbeat", "2026-11-24T08:00:00Z")
    clock.advance(hours=1)
    assert dispatch.tick(runtime).promoted == 2
    redis.delete(f"rq:queue:{runtime.settings.queue_name}")
    redis.hset(f"rq:job:send-{second}", "last_heartbeat", "2026-11-24T08:00:00Z")
    clock.advance(seconds=runtime.settings.requeue_after_seconds + 1)
    assert dispatch.tick(runtime).requeued == 2
    drain(runtime)
    assert states(runtime) == {"sent": 2}


def _all_sends(rt: Runtime) -> list[Send]:
    with rt.sessions() as s:
        return list(s.scalars(select(Send)))


def test_unknown_send_of_an_ended_enrollment_is_cancelled_when_not_found(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    from addin_server.sending.outbox import claim

    cid = make_campaign(rep)
    (eid,) = launch(rep, cid, people(1))
    clock.advance(hours=1)
    (send_id,) = dispatch.tick(runtime).enqueued
    with runtime.sessions.begin() as s:  # a worker claims it, then dies
        send = s.get(Send, send_id)
        assert send is not None
        assert claim(s, send, runtime.now(), runtime.settings.send_lease_seconds)
    assert rep.post(f"/api/v1/enrollments/{eid}/stop").status_code == 200
    clock.advance(seconds=runtime.settings.send_lease_seconds + 1)
    dispatch.tick(runtime)
    clock.advance(seconds=runtime.settings.reconcile_grace_seconds + 1)
    dispatch.tick(runtime)
    send = only_send(runtime)
    assert send.state == SendState.CANCELLED
    assert [t for _, t in history(runtime, send_id)][-2:] == ["unknown", "cancelled"]


def test_dispatcher_promotes_on_every_pass_and_repairs_on_full_passes(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    """`addin-server dispatch --interval 0.2`: due sends go onto RQ at every pass; expired
    leases (and the other repairs) wait for the next full pass, at most a second away."""
    from addin_server.sending.outbox import claim

    cid = make_campaign(rep)
    launch(rep, cid, people(1))
    clock.advance(hours=1)
    dispatcher = dispatch.Dispatcher(runtime, housekeeping_every=3600)
    (first,) = dispatcher.run_pass().enqueued
    with runtime.sessions.begin() as s:  # a worker claims it, then dies
        send = s.get(Send, first)
        assert send is not None
        assert claim(s, send, runtime.now(), runtime.settings.send_lease_seconds)
    launch(rep, cid, people(1, prefix="q"))
    clock.advance(seconds=runtime.settings.send_lease_seconds + 3600)
    quick = dispatcher.run_pass()
    assert quick.expired == 0 and len(quick.enqueued) == 1
    assert states(runtime)["sending"] == 1
    dispatcher._last_full -= 3600  # the monotonic clock moved on by the housekeeping period
    assert dispatcher.run_pass().expired == 1
    assert states(runtime)["unknown"] == 1
