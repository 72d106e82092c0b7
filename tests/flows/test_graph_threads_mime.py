"""Microsoft sends through the real pipeline with Sent Items that fill late (Graph sends
asynchronously): a same-day reply step waits, with its reason, until the previous email is in
Sent Items, then goes out in the thread; every email is a MIME draft carrying List-Unsubscribe,
List-Unsubscribe-Post, our send id and the threading headers; Sent-items reconciliation still
finds a send by its header. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import SendState
from addin_server.mailboxes import open_mailbox
from addin_server.models import Mailbox, Send
from addin_server.runtime import Runtime
from tests.conftest import FrozenClock
from tests.fakes.fixtures import connected_microsoft_row, fake_settings
from tests.fakes.microsoft import MicrosoftFake
from tests.support.replies_providers import REP, provider_settings, rep_with
from tests.support.sending import cycle, email_step, launch, make_campaign

ZOE = "zoe@corp.test"


@pytest.fixture
def settings(settings: Settings, microsoft_fake: MicrosoftFake) -> Settings:
    return fake_settings(provider_settings(settings), microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _sends(runtime: Runtime) -> list[Send]:
    with runtime.sessions() as s:
        rows = list(s.scalars(select(Send).order_by(Send.position)))
        for r in rows:
            s.expunge(r)
        return rows


def test_a_same_day_reply_waits_for_sent_items_and_stays_in_the_thread(
    runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    microsoft_fake.clock = clock
    microsoft_fake.sent_items_delay = timedelta(seconds=90)
    rep, box = rep_with(runtime, client,
                        connected_microsoft_row(runtime.settings, microsoft_fake, REP))
    steps = [email_step(1, subject="Quick question, {{first_name}}"),
             email_step(2, send_option="same_time_as_previous", reply_to_previous=True,
                        subject="", body_html="<p>Following up.</p>")]
    launch(rep, make_campaign(rep, steps), [{"email": ZOE, "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime, 1)
    first, second = _sends(runtime)
    assert first.state == SendState.SENT
    # The follow-up falls due before the first email reached Sent Items.
    with runtime.sessions.begin() as s:
        row = s.get(Send, second.id)
        assert row is not None
        row.due_at = clock.at
    clock.advance(seconds=10)
    cycle(runtime, 1)
    _, second = _sends(runtime)
    assert second.state == SendState.SCHEDULED, second.reason
    assert second.reason == "waiting for the previous email to reach Sent Items"
    assert second.attempts == 0
    assert len(microsoft_fake.recipient_view(ZOE).messages) == 1
    clock.advance(seconds=90)
    cycle(runtime, 2)
    _, second = _sends(runtime)
    assert second.state == SendState.SENT, second.reason
    seen = microsoft_fake.recipient_view(ZOE).messages
    assert len(seen) == 2 and len(microsoft_fake.recipient_view(ZOE).threads()) == 1
    assert seen[1].in_reply_to == seen[0].message_id
    assert seen[1].subject.lower().startswith("re:")
    for message, send in zip(seen, _sends(runtime), strict=True):
        assert message.header("List-Unsubscribe"), message.subject
        assert message.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        assert message.header("X-Campaign-Send-Id") == str(send.id)
    assert microsoft_fake.calls.count("messages.createReply") == 0
    # Sent-items reconciliation finds a MIME-drafted send by its header (once it is there).
    clock.advance(seconds=91)
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None
        found = open_mailbox(runtime, s, row).find_sent(
            str(second.id), since=clock.at - timedelta(hours=1))
    assert found is not None and found.rfc_message_id == seen[1].message_id
