"""Every classified failure path of a send, against the fault-injecting fake provider over HTTP
(its adapter classifies the HTTP answers as the real adapters must). Both databases."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus, MailboxStatus, SendState
from addin_server.mailboxes.state import reconnect_mailbox
from addin_server.models import Enrollment, Event, Mailbox, Send
from addin_server.runtime import Runtime
from addin_server.sending import dispatcher as dispatch
from addin_server.sending.outbox import retry_delay
from tests.conftest import Actor, FrozenClock
from tests.fakes.provider import FakeProviderServer
from tests.support.sending import cycle, email_step, history, launch, make_campaign, only_send


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeProviderServer) -> Settings:
    requests.post(fake.url + "/_reset", timeout=5)
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}",
                          mailbox_factory="tests.fakes.provider:open_fake",
                          extra={"fake_provider_url": fake.url})


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def script(fake: FakeProviderServer, op: str, status: int, **kw: object) -> None:
    requests.post(fake.url + "/_script", json={"op": op, "status": status, "count": 1, **kw},
                  timeout=5).raise_for_status()


def accepted(fake: FakeProviderServer) -> dict[str, int]:
    return dict(requests.get(fake.url + "/_stats", timeout=5).json()["accepted"])


def one_due_send(rep: Actor, clock: FrozenClock, **campaign_settings: object) -> int:
    cid = make_campaign(rep, [email_step(1), email_step(2, send_option="same_time_as_previous")],
                        **campaign_settings)
    (eid,) = launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    clock.advance(hours=1)
    return eid


def events(rt: Runtime, type_: str) -> list[Event]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_)))


def test_rate_limited_before_sending_retries_after_retry_after(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    script(fake, "create_draft", 429, retry_after=90)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED
    assert "temporary error" in send.reason
    assert send.due_at >= clock.at + timedelta(seconds=90)
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.SCHEDULED  # not before Retry-After
    clock.advance(seconds=91)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SENT and send.attempts == 2
    assert accepted(fake) == {str(send.id): 1}


def test_server_error_on_the_send_call_is_reconciled_before_resending(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    script(fake, "send", 503)  # refused, but the client cannot know that
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.UNKNOWN
    draft = send.draft_id
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.UNKNOWN  # grace period first
    clock.advance(seconds=runtime.settings.reconcile_grace_seconds + 1)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SENT
    assert send.draft_id == draft  # the same draft was sent: no second copy possible
    assert accepted(fake) == {str(send.id): 1}
    assert [t for _, t in history(runtime, send.id)] == [
        "queued", "sending", "unknown", "scheduled", "queued", "sending", "sent"]


def test_error_after_the_provider_accepted_is_found_in_sent_items(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    script(fake, "send", 500, accept=True)  # the ambiguous case: it went out
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.UNKNOWN
    clock.advance(seconds=runtime.settings.reconcile_grace_seconds + 1)
    cycle(runtime, 2)
    send = only_send(runtime)
    assert send.state == SendState.SENT and send.attempts == 1
    assert send.rfc_message_id and send.rfc_message_id.endswith("@fake-provider.test>")
    assert accepted(fake) == {str(send.id): 1}
    # The bookkeeping happened once: the next step is scheduled, the feed says sent once.
    nxt = only_send(runtime, 1)
    assert nxt.state == SendState.SCHEDULED
    assert len(events(runtime, feed.EMAIL_SENT)) == 1


@pytest.mark.parametrize("remove_on_bounce", [True, False])
def test_permanent_rejection_fails_and_follows_the_campaign(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer,
    remove_on_bounce: bool,
) -> None:
    eid = one_due_send(rep, clock, remove_on_bounce=remove_on_bounce)
    script(fake, "create_draft", 400, message="invalid recipient")
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.FAILED
    assert "invalid recipient" in send.reason
    assert accepted(fake) == {}
    (failed,) = events(runtime, feed.EMAIL_FAILED)
    assert failed.send_id == send.id
    with runtime.sessions() as s:
        enrollment = s.get(Enrollment, eid)
        assert enrollment is not None
        if remove_on_bounce:
            assert enrollment.status == EnrollmentStatus.BOUNCED
            assert s.scalar(select(Send).where(Send.position == 1)) is None
        else:
            assert enrollment.status == EnrollmentStatus.ACTIVE
            assert enrollment.current_position == 1
            assert s.scalar(select(Send).where(Send.position == 1)) is not None


def test_revoked_grant_disconnects_the_mailbox_holds_and_resumes_on_reconnect(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    script(fake, "send", 401)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED  # held, not failed
    assert "disconnected" in send.reason
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox))
        assert box is not None and box.status == MailboxStatus.DISCONNECTED
    assert len(events(runtime, feed.MAILBOX_DISCONNECTED)) == 1
    clock.advance(hours=2)
    assert dispatch.tick(runtime).promoted == 0  # waits while disconnected
    detail = rep.get(f"/api/v1/sends/{send.id}").json
    assert "reconnect" in detail["reason"]
    with runtime.sessions.begin() as s:
        box = s.scalar(select(Mailbox))
        assert box is not None
        assert reconnect_mailbox(s, box, runtime.now()) == 1
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SENT
    assert accepted(fake) == {str(send.id): 1}
    assert len(events(runtime, feed.MAILBOX_RECONNECTED)) == 1


def test_provider_pause_reschedules_to_the_stated_time(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    until = clock.at + timedelta(hours=3)
    script(fake, "send", 403, body={"paused_until": until.isoformat()})
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED
    assert send.due_at == until
    assert "paused" in send.reason
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox))
        assert box is not None and box.paused_until == until
    clock.advance(hours=2)
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.SCHEDULED
    clock.advance(hours=1, seconds=1)
    cycle(runtime, 1)
    assert only_send(runtime).state == SendState.SENT


def test_gives_up_after_the_last_attempt(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    one_due_send(rep, clock)
    attempts = runtime.settings.send_max_attempts
    script(fake, "create_draft", 429, retry_after=1, count=attempts)
    for _ in range(attempts):
        cycle(runtime, 1)
        clock.advance(seconds=runtime.settings.send_retry_max_seconds + 1)
    send = only_send(runtime)
    assert send.state == SendState.FAILED
    assert f"gave up after {attempts} attempts" in send.reason


def test_retry_delay_backs_off_with_jitter_and_honours_retry_after() -> None:
    rand = random.Random(1)
    delays = [retry_delay(n, None, base=30, cap=3600, rand=rand) for n in (1, 2, 3, 10)]
    assert 15 <= delays[0] <= 30
    assert 30 <= delays[1] <= 60
    assert 60 <= delays[2] <= 120
    assert 1800 <= delays[3] <= 3600
    assert retry_delay(1, 500, base=30, cap=3600, rand=rand) == 500
    assert retry_delay(1, 7200, base=30, cap=3600, rand=rand) == 7200  # the provider knows best
