"""Microsoft's restricted senders refused at the Graph API (not only as an NDR): the send call
answers with Exchange's `5.1.8 Access denied, bad outbound sender` (or the submission-blocked
code). The same action as the NDR path: the mailbox paused with "an Exchange admin must
release it", the rep and admins told, the send waits (not an attempt, never a bounce), and
after a person releases it the same draft goes once. Through the Microsoft fake, both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import SendState
from addin_server.models import Bounce, Event, Mailbox, Suppression
from addin_server.runtime import Runtime
from tests.conftest import FrozenClock
from tests.fakes.fixtures import connected_microsoft_row, fake_settings
from tests.fakes.microsoft import MicrosoftFake
from tests.support.replies_providers import REP, provider_settings, rep_with
from tests.support.sending import cycle, email_step, launch, make_campaign, only_send


@pytest.fixture
def settings(settings: Settings, microsoft_fake: MicrosoftFake) -> Settings:
    return fake_settings(provider_settings(settings), microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


@pytest.mark.parametrize(("status", "code", "message"), [
    (403, "ErrorSendAsDenied", "Cannot submit message. 550 5.1.8 Access denied, bad outbound "
                               "sender. AS(42004)"),
    (403, "ErrorMessageSubmissionBlocked", "Cannot send mail. Your account is restricted."),
])
def test_a_restricted_sender_at_the_graph_api_pauses_the_mailbox_like_the_ndr(
    runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake, clock: FrozenClock,
    status: int, code: str, message: str
) -> None:
    microsoft_fake.clock = clock
    rep, box = rep_with(runtime, client,
                        connected_microsoft_row(runtime.settings, microsoft_fake, REP))
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    microsoft_fake.fail("messages.send", status, code, message)
    cycle(runtime, 2)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED, send.reason
    assert send.attempts == 0
    assert "an Exchange admin must release it" in send.reason
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None and row.guard_scope == "restricted"
        assert row.guard_reason.startswith("5.1.8")
        assert s.scalar(select(Bounce.id)) is None  # about the sender: never a bounce
        assert s.scalar(select(Suppression.id)) is None
        (tripped,) = s.scalars(select(Event).where(Event.type == feed.BREAKER_TRIPPED))
        assert tripped.data["scope"] == "restricted"
    enrollment = rep.get(f"/api/v1/enrollments/{send.enrollment_id}").json
    assert "Exchange admin" in enrollment["steps"][0]["reason"]
    cycle(runtime, 2)
    assert microsoft_fake.calls.count("messages.send") == 1  # paused: Graph is not asked
    released = rep.post(f"/api/v1/mailboxes/{box}/breaker/release")
    assert released.status_code == 200, released.json
    cycle(runtime, 2)
    send = only_send(runtime)
    assert send.state == SendState.SENT, send.reason
    assert microsoft_fake.calls.count("messages.create") == 1  # the same draft
    assert len(microsoft_fake.recipient_view("zoe@corp.test").messages) == 1
