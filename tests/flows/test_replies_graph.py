"""Reply detection against the fake Microsoft Graph through the real msal and requests:
campaigns sent by the real pipeline, replies arriving in the rep's inbox, delta polls (and the
410 resync), the pre-send check. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus
from addin_server.inbound.poll import poll
from addin_server.models import Mailbox, Person
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.fakes.fixtures import connected_microsoft_row, fake_settings
from tests.fakes.microsoft import MicrosoftFake
from tests.support.replies_providers import (
    REP,
    bounce_of,
    out_of_office,
    provider_settings,
    rep_with,
    reply_to,
    sent_to,
    status,
)
from tests.support.sending import cycle, email_step, launch, make_campaign, states

ZOE = "zoe@corp.test"


@pytest.fixture
def settings(settings: Settings, microsoft_fake: MicrosoftFake) -> Settings:
    return fake_settings(provider_settings(settings), microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


@pytest.fixture
def graph_rep(runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake,
              clock: FrozenClock) -> tuple[Actor, int]:
    microsoft_fake.clock = clock
    row = connected_microsoft_row(runtime.settings, microsoft_fake, REP)
    return rep_with(runtime, client, row)


def two_campaigns(rep: Actor, runtime: Runtime, clock: FrozenClock) -> tuple[int, int]:
    steps = [email_step(1, subject="Quick question, {{first_name}}"),
             email_step(2, send_option="same_time_as_previous", reply_to_previous=True,
                        subject="", body_html="<p>Following up.</p>")]
    a = launch(rep, make_campaign(rep, steps), [{"email": ZOE, "first_name": "Zoe"}])[0]
    steps_b = [dict(s) for s in steps]
    steps_b[0]["subject"] = "Another idea, {{first_name}}"
    b = launch(rep, make_campaign(rep, steps_b), [{"email": ZOE, "first_name": "Zoe"}])[0]
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 2, "scheduled": 2}
    return a, b


def test_a_reply_stops_the_right_campaign_only(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock
) -> None:
    rep, box = graph_rep
    a, b = two_campaigns(rep, runtime, clock)
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None and "$deltatoken=" in (row.sync_cursor or "")
    microsoft_fake.deliver(REP, reply_to(sent_to(runtime, b), frm="Zoe <zoe@corp.test>"))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("human", b)]
    assert status(runtime, b) == EnrollmentStatus.REPLIED
    assert status(runtime, a) == EnrollmentStatus.ACTIVE
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 3, "cancelled": 1}
    assert poll(runtime, box).outcomes == []


def test_a_bounce_removes_the_person(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock
) -> None:
    rep, box = graph_rep
    a, b = two_campaigns(rep, runtime, clock)
    microsoft_fake.deliver(REP, bounce_of(sent_to(runtime, a), to=ZOE))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("bounce", a)]
    assert status(runtime, a) == status(runtime, b) == EnrollmentStatus.BOUNCED
    with runtime.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == ZOE))
        assert person is not None and person.bounced_at is not None


def test_out_of_office_pauses_until_the_return_date(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock
) -> None:
    rep, box = graph_rep
    a, _b = two_campaigns(rep, runtime, clock)
    microsoft_fake.deliver(REP, out_of_office(sent_to(runtime, a), frm=ZOE,
                                              back="3 December"))
    result = poll(runtime, box)
    assert [(o.kind, o.action) for o in result.outcomes] == [
        ("out_of_office", "held until Thu, 3 Dec 2026 in 2 campaign(s)")]
    assert status(runtime, a) == status(runtime, _b) == EnrollmentStatus.PAUSED


def test_an_expired_delta_token_resyncs_from_the_live_conversations(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock
) -> None:
    rep, box = graph_rep
    a, _b = two_campaigns(rep, runtime, clock)
    microsoft_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE))
    microsoft_fake.expire_delta(REP)
    result = poll(runtime, box)
    assert result.rescanned
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("human", a)]
    assert status(runtime, a) == EnrollmentStatus.REPLIED
    # The fresh delta link works: a later poll sees nothing new.
    assert poll(runtime, box).outcomes == [] and not poll(runtime, box).rescanned


def test_the_pre_send_check_reads_the_conversation(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock
) -> None:
    rep, _box = graph_rep
    a, _b = two_campaigns(rep, runtime, clock)
    microsoft_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE))
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert status(runtime, a) == EnrollmentStatus.REPLIED
    assert states(runtime) == {"sent": 3, "cancelled": 1}


def test_change_notifications_subscribe_validate_and_trigger_the_poll(
    runtime: Runtime, graph_rep: tuple[Actor, int], microsoft_fake: MicrosoftFake,
    clock: FrozenClock, client: FlaskClient
) -> None:
    from addin_server.inbound.push import client_state
    from tests.support.sending import drain

    runtime.settings = runtime.settings.with_(
        graph_notification_base_url="https://campaigns.example.test")
    rep, box = graph_rep
    a, _b = two_campaigns(rep, runtime, clock)
    [sub] = microsoft_fake.subscriptions.values()
    assert sub["notificationUrl"] == "https://campaigns.example.test/push/graph"
    assert sub["resource"] == "/me/mailFolders('inbox')/messages"
    assert sub["expirationDateTime"] == "2026-11-27T08:30:00Z"
    # The handshake Graph makes when creating it.
    shake = client.post("/push/graph?validationToken=Validation%3A+abc")
    assert (shake.status_code, shake.data, shake.mimetype) == (200, b"Validation: abc",
                                                               "text/plain")
    microsoft_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE))
    forged = {"value": [{"subscriptionId": sub["id"], "clientState": "guess",
                         "changeType": "created", "resource": "x"}]}
    assert client.post("/push/graph", json=forged).status_code == 202
    drain(runtime)
    assert status(runtime, a) == EnrollmentStatus.ACTIVE  # a forged push did nothing
    real = {"value": [{"subscriptionId": sub["id"],
                       "clientState": client_state(runtime.settings, box),
                       "changeType": "created", "resource": "x"}]}
    assert client.post("/push/graph", json=real).status_code == 202
    drain(runtime)
    assert status(runtime, a) == EnrollmentStatus.REPLIED
