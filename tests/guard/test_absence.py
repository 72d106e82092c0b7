"""Rep absence read from the mailbox: the vacation responder read through the real client
libraries (google-api-python-client users.settings.getVacation; msal + requests on Graph's
mailboxSettings/automaticRepliesSetting) against the fakes; while it is on, the rep's
automatic emails and due tasks wait with the reason and the return date, and resume after
it; "go on" lets them go; a grant without the extra scope says so and sends as before. Both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import MailboxStatus, SendState
from addin_server.mailboxes.gmail import GMAIL_ABSENCE_SCOPE, GOOGLE_SCOPES
from addin_server.mailboxes.graph import MICROSOFT_ABSENCE_SCOPE, MICROSOFT_SCOPES
from addin_server.models import Event, Mailbox
from addin_server.runtime import Runtime
from addin_server.workers.absence import read_mailbox_absence
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.fixtures import connected_gmail_row, connected_microsoft_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.microsoft import MicrosoftFake
from tests.support.replies_providers import REP, provider_settings, rep_with
from tests.support.sending import cycle, email_step, launch, make_campaign, only_send

START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # a Tuesday; the campaign sends 09:30 Paris


@pytest.fixture
def settings(settings: Settings, google_fake: GoogleFake,
             microsoft_fake: MicrosoftFake) -> Settings:
    return fake_settings(provider_settings(settings), google=google_fake,
                         microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def admin_sets(runtime: Runtime, client: FlaskClient, **settings: bool) -> Actor:
    admin = make_actor(runtime, client, "carl@acme.test", admin=True)
    response = admin.patch("/api/v1/deliverability/settings", json=settings)
    assert response.status_code == 200, response.json
    assert all(response.json["settings"][k] == v for k, v in settings.items())
    return admin


def events(runtime: Runtime, type_: str) -> list[Event]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def box_of(runtime: Runtime, mailbox_id: int) -> Mailbox:
    with runtime.sessions() as s:
        box = s.get(Mailbox, mailbox_id)
        assert box is not None
        return box


def test_gmail_vacation_holds_emails_and_tasks_until_it_ends(
    runtime: Runtime, client: FlaskClient, google_fake: GoogleFake, clock: FrozenClock
) -> None:
    clock.set(START)
    google_fake.clock = clock
    rep, box = rep_with(runtime, client, connected_gmail_row(
        runtime.settings, google_fake, REP, scopes=[*GOOGLE_SCOPES, GMAIL_ABSENCE_SCOPE]))
    admin_sets(runtime, client, read_absence=True)
    back = START + timedelta(days=2)
    google_fake.set_vacation(REP, on=True, start=START - timedelta(hours=1), end=back)
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    # A call due tomorrow, while the rep is away.
    other = make_campaign(rep, [{"day": 1, "type": "call", "instructions": "Call"}])
    (call_enrollment,) = launch(rep, other, [{"email": "yan@corp.test", "first_name": "Yan"}],
                                start_date="2026-11-25")
    cycle(runtime, 2)  # the responder is read
    got = box_of(runtime, box)
    assert got.away_on and got.away_end == back and got.away_hold and got.away_error == ""
    (away,) = events(runtime, feed.REP_AWAY)
    assert away.data["until"] == back.strftime("%Y-%m-%dT%H:%M:%SZ")
    limits = rep.get(f"/api/v1/mailboxes/{box}/limits").json
    assert limits["absence"]["on"] and limits["absence"]["holds"]

    clock.advance(hours=3)  # the email is due
    cycle(runtime, 2)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED
    steps = rep.get(f"/api/v1/enrollments/{send.enrollment_id}").json["steps"]
    assert "the rep is away" in steps[0]["reason"]
    assert "return Thu, 26 Nov 2026 at 07:00 UTC" in steps[0]["reason"]
    task_steps = rep.get(f"/api/v1/enrollments/{call_enrollment}").json["steps"]
    assert "it waits: the rep is away" in task_steps[0]["reason"]
    assert google_fake.recipient_view("zoe@corp.test").messages == []
    clock.advance(days=1)  # the call's day
    cycle(runtime, 2)
    assert events(runtime, feed.TASK_DUE) == []  # due tasks wait too

    clock.set(back + timedelta(minutes=1))  # the responder's end: no other read needed
    cycle(runtime, 2)
    assert only_send(runtime).state == SendState.SENT
    assert len(google_fake.recipient_view("zoe@corp.test").messages) == 1
    assert len(events(runtime, feed.TASK_DUE)) == 1
    # The next read (the responder still says on, its end passed) tells the feed.
    assert read_mailbox_absence(runtime, box) == "back"
    assert len(events(runtime, feed.REP_BACK)) == 1


def test_graph_automatic_replies_scheduled_in_a_zone_then_turned_off(
    runtime: Runtime, client: FlaskClient, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    clock.set(START)
    microsoft_fake.clock = clock
    rep, box = rep_with(runtime, client, connected_microsoft_row(
        runtime.settings, microsoft_fake, REP,
        scopes=[*MICROSOFT_SCOPES, MICROSOFT_ABSENCE_SCOPE]))
    admin_sets(runtime, client, read_absence=True)
    end = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    microsoft_fake.set_automatic_replies(REP, "scheduled", start=START - timedelta(days=1),
                                         end=end, time_zone="Europe/Paris")
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    cycle(runtime, 2)
    got = box_of(runtime, box)
    assert got.away_on and got.away_end == end  # 10:00 Paris is 09:00 UTC
    clock.advance(hours=3)
    cycle(runtime, 2)
    send = only_send(runtime)
    assert send.state == SendState.SCHEDULED
    assert "return Tue, 1 Dec 2026 at 09:00 UTC" in rep.get(
        f"/api/v1/enrollments/{send.enrollment_id}").json["steps"][0]["reason"]
    assert microsoft_fake.calls.count("messages.send") == 0

    microsoft_fake.set_automatic_replies(REP, "disabled")  # back early
    assert read_mailbox_absence(runtime, box) == "back"
    assert len(events(runtime, feed.REP_BACK)) == 1
    cycle(runtime, 2)
    assert only_send(runtime).state == SendState.SENT
    microsoft_fake.set_automatic_replies(REP, "alwaysEnabled")
    assert read_mailbox_absence(runtime, box) == "away"
    assert box_of(runtime, box).away_end is None


def test_go_on_records_the_absence_and_lets_emails_go(
    runtime: Runtime, client: FlaskClient, google_fake: GoogleFake, clock: FrozenClock
) -> None:
    clock.set(START)
    google_fake.clock = clock
    rep, box = rep_with(runtime, client, connected_gmail_row(
        runtime.settings, google_fake, REP, scopes=[*GOOGLE_SCOPES, GMAIL_ABSENCE_SCOPE]))
    admin_sets(runtime, client, read_absence=True, absence_hold=False)
    google_fake.set_vacation(REP, on=True)
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    cycle(runtime, 2)
    clock.advance(hours=3)
    cycle(runtime, 2)
    assert only_send(runtime).state == SendState.SENT
    absence = rep.get(f"/api/v1/mailboxes/{box}/limits").json["absence"]
    assert absence["on"] and not absence["holds"] and absence["end"] is None


@pytest.mark.parametrize("provider", ["gmail", "microsoft"])
def test_a_grant_without_the_scope_says_so_and_keeps_sending(
    runtime: Runtime, client: FlaskClient, google_fake: GoogleFake,
    microsoft_fake: MicrosoftFake, clock: FrozenClock, provider: str
) -> None:
    clock.set(START)
    google_fake.clock = microsoft_fake.clock = clock
    row = (connected_gmail_row(runtime.settings, google_fake, REP) if provider == "gmail"
           else connected_microsoft_row(runtime.settings, microsoft_fake, REP))
    rep, box = rep_with(runtime, client, row)
    admin_sets(runtime, client, read_absence=True)
    google_fake.set_vacation(REP, on=True)
    microsoft_fake.set_automatic_replies(REP, "alwaysEnabled")
    launch(rep, make_campaign(rep, [email_step(1)]),
           [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    cycle(runtime, 2)
    got = box_of(runtime, box)
    assert "reconnect the mailbox to allow it" in got.away_error
    assert not got.away_on and got.status == MailboxStatus.CONNECTED
    clock.advance(hours=3)
    cycle(runtime, 2)
    assert only_send(runtime).state == SendState.SENT


def test_only_admins_change_the_settings_and_bad_values_name_the_field(
    runtime: Runtime, client: FlaskClient, rep: Actor
) -> None:
    refused = rep.patch("/api/v1/deliverability/settings", json={"bulk_hold": True})
    assert refused.status_code == 403
    admin = make_actor(runtime, client, "carl@acme.test", admin=True)
    bad = admin.patch("/api/v1/deliverability/settings", json={"bulk_hold": "yes"})
    assert bad.status_code in (400, 422) and bad.json["errors"][0]["field"] == "bulk_hold"
    assert rep.get("/api/v1/deliverability").json["settings"] == {
        "bulk_hold": False, "read_absence": False, "absence_hold": True}
