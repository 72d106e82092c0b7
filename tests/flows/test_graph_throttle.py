"""A Graph 429 on the send call (a throttled request is not processed): the mailbox pauses
until Retry-After with a `mailbox_paused` event and the reason on the send, the draft is sent
once the pause ends, and throttles do not use up the attempts kept for real failures, even
when they last longer than all attempts would. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import SendState
from addin_server.models import Event, Mailbox
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


def test_a_throttle_longer_than_the_attempts_pauses_the_mailbox_and_sends_once(
    runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    microsoft_fake.clock = clock
    rep, box = rep_with(runtime, client,
                        connected_microsoft_row(runtime.settings, microsoft_fake, REP))
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    throttles = runtime.settings.send_max_attempts + 2
    microsoft_fake.fail("messages.send", 429, "ApplicationThrottled",
                        "Application is over its MailSend limit.",
                        headers={"Retry-After": "70"}, times=throttles)
    for n in range(throttles):
        started = clock.at
        cycle(runtime, 1)
        send = only_send(runtime)
        assert send.state == SendState.SCHEDULED, (n, send.state, send.reason)
        assert "mailbox paused" in send.reason and "until" in send.reason
        assert send.due_at >= started + timedelta(seconds=70)
        assert send.attempts == 0  # a throttled request was not an attempt
        with runtime.sessions() as s:
            row = s.get(Mailbox, box)
            assert row is not None and row.paused_until == started + timedelta(seconds=70)
        clock.advance(seconds=30)
        cycle(runtime, 1)  # still paused: nothing is asked of Graph
        assert microsoft_fake.calls.count("messages.send") == n + 1
        clock.advance(seconds=41)
    cycle(runtime, 1)
    send = only_send(runtime)
    assert send.state == SendState.SENT, send.reason
    assert send.attempts == 1
    assert microsoft_fake.calls.count("messages.send") == throttles + 1
    assert microsoft_fake.calls.count("messages.create") == 1  # the same draft each time
    assert len(microsoft_fake.recipient_view("zoe@corp.test").messages) == 1
    with runtime.sessions() as s:
        paused = s.scalars(select(Event).where(Event.type == "mailbox_paused")).all()
        assert len(paused) == throttles
        assert "429" in paused[0].data["reason"]
