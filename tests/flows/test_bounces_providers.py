"""Bounces read as production reads them: through Gmail's format=metadata (headers + snippet,
no body: the gmail.metadata scope) and Graph's JSON (internetMessageHeaders when $select asks,
the whole MIME via /$value). DSNs and NDRs shaped as Gmail, Exchange Online, Outlook.com,
Postfix and Exim send them. The bounced person stops, a `bounced` feed event is recorded and
the address is suppressed. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.inbound.poll import poll
from addin_server.models import Event, Person, Send, Suppression
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.fakes.fixtures import connected_gmail_row, connected_microsoft_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.microsoft import MicrosoftFake
from tests.support.replies import fixture
from tests.support.replies_providers import REP, provider_settings, rep_with, sent_to, status
from tests.support.sending import cycle, email_step, launch, make_campaign, states

FRANK = "frank@prospect.test"


@pytest.fixture
def settings(settings: Settings, google_fake: GoogleFake, microsoft_fake: MicrosoftFake
             ) -> Settings:
    return fake_settings(provider_settings(settings), google=google_fake,
                         microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _first_email_sent(rep: Actor, runtime: Runtime, clock: FrozenClock) -> int:
    steps = [email_step(1, subject="Quick question, {{first_name}}"),
             email_step(2, send_option="same_time_as_previous", reply_to_previous=True,
                        subject="", body_html="<p>Following up.</p>")]
    e = launch(rep, make_campaign(rep, steps), [{"email": FRANK, "first_name": "Frank"}])[0]
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 1, "scheduled": 1}
    return e


def _report(runtime: Runtime, enrollment_id: int, name: str, *, drop: str = ""
            ) -> EmailMessage:
    """The fixture pointed at our email to Frank (its real Message-ID and send id)."""
    sent = sent_to(runtime, enrollment_id)
    with runtime.sessions() as s:
        send_id = s.scalar(select(Send.id).where(Send.enrollment_id == enrollment_id,
                                                 Send.state == SendState.SENT))
    msg = fixture(name, {"nobody@globex.test": FRANK, "nobody": "frank",
                         "<campaign-41.1@acme.test>": sent.rfc_message_id or "",
                         "X-Campaign-Send-Id: 41": f"X-Campaign-Send-Id: {send_id}"})
    if drop:
        del msg[drop]
    return msg


def _assert_bounced(runtime: Runtime, enrollment_id: int) -> None:
    assert status(runtime, enrollment_id) == EnrollmentStatus.BOUNCED
    with runtime.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == FRANK))
        assert person is not None and person.bounced_at is not None
        events = s.scalars(select(Event).where(Event.type == "bounced")).all()
        assert [e.enrollment_id for e in events] == [enrollment_id]
        assert s.scalar(select(Suppression).where(Suppression.email == FRANK)) is not None


# Gmail returns a DSN's headers and snippet only (format=metadata). Gmail's own DSN names our
# email in In-Reply-To/References; so do Exchange's and Outlook.com's NDRs; Exim's names the
# failed recipient in X-Failed-Recipients.
GMAIL_CASES = [
    ("gmail_bounce.eml", ""),
    ("gmail_bounce.eml", "X-Failed-Recipients"),  # as the deployment's DSN came: snippet only
    ("exchange_online_ndr.eml", ""),
    ("outlook_com_ndr.eml", ""),
    ("exim_returned.eml", "References"),  # Exim names no Message-ID: X-Failed-Recipients only
]


@pytest.mark.parametrize(("name", "drop"), GMAIL_CASES)
def test_a_bounce_read_through_gmail_metadata_stops_the_person(
    runtime: Runtime, client: FlaskClient, google_fake: GoogleFake, clock: FrozenClock,
    name: str, drop: str,
) -> None:
    google_fake.clock = clock
    rep, box = rep_with(runtime, client, connected_gmail_row(runtime.settings, google_fake, REP))
    e = _first_email_sent(rep, runtime, clock)
    poll(runtime, box)
    google_fake.deliver(REP, _report(runtime, e, name, drop=drop))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("bounce", e)]
    _assert_bounced(runtime, e)
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 1, "cancelled": 1}


GRAPH_CASES = ["exchange_online_ndr.eml", "outlook_com_ndr.eml", "gmail_bounce.eml",
               "postfix_dsn.eml", "exim_returned.eml"]


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_a_bounce_read_through_graph_stops_the_person(
    runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake, clock: FrozenClock,
    name: str,
) -> None:
    microsoft_fake.clock = clock
    rep, box = rep_with(runtime, client,
                        connected_microsoft_row(runtime.settings, microsoft_fake, REP))
    e = _first_email_sent(rep, runtime, clock)
    microsoft_fake.deliver(REP, _report(runtime, e, name))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("bounce", e)]
    _assert_bounced(runtime, e)
