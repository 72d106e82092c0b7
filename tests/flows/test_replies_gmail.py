"""Reply detection against the fake Gmail through the real client libraries: campaigns sent by
the real pipeline, replies arriving in the rep's inbox, history.list polls (and the stale-id
rescan), the pre-send check. Both databases."""

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
from addin_server.models import Event, Mailbox, Person, Send
from addin_server.runtime import Runtime
from addin_server.workers import dispatch
from tests.conftest import Actor, FrozenClock
from tests.fakes.fixtures import connected_gmail_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.support.replies_providers import (
    REP,
    bounce_of,
    enrollment,
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
def settings(settings: Settings, google_fake: GoogleFake) -> Settings:
    return fake_settings(provider_settings(settings), google=google_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


@pytest.fixture
def gmail_rep(runtime: Runtime, client: FlaskClient, google_fake: GoogleFake,
              clock: FrozenClock) -> tuple[Actor, int]:
    google_fake.clock = clock  # mail times on the test's clock
    return rep_with(runtime, client, connected_gmail_row(runtime.settings, google_fake, REP))


def two_campaigns(rep: Actor, runtime: Runtime, clock: FrozenClock) -> tuple[int, int]:
    """Zoe in campaigns A and B (two emails each, a day apart); the first of each sent."""
    steps = [email_step(1, subject="Quick question, {{first_name}}"),
             email_step(2, send_option="same_time_as_previous", reply_to_previous=True,
                        subject="", body_html="<p>Following up.</p>")]
    a = launch(rep, make_campaign(rep, steps, mark_success_on_reply=True),
               [{"email": ZOE, "first_name": "Zoe"}])[0]
    steps_b = [dict(s) for s in steps]
    steps_b[0]["subject"] = "Another idea, {{first_name}}"
    b = launch(rep, make_campaign(rep, steps_b), [{"email": ZOE, "first_name": "Zoe"}])[0]
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 2, "scheduled": 2}
    return a, b


def test_a_reply_in_the_fake_inbox_stops_the_right_campaign_only(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    a, b = two_campaigns(rep, runtime, clock)
    # The dispatcher's tick queued a poll, which took a first history id (no history id
    # yet: a rescan of the live threads, then a fresh id).
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None and row.sync_cursor is not None and row.synced_at is not None
    clock.advance(hours=1)
    google_fake.deliver(REP, reply_to(sent_to(runtime, a), frm="Zoe <zoe@corp.test>"))
    result = poll(runtime, box)
    assert not result.rescanned
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("human", a)]
    assert status(runtime, a) == EnrollmentStatus.REPLIED
    assert enrollment(runtime, a).outcome == "success"
    assert status(runtime, b) == EnrollmentStatus.ACTIVE
    # A's follow-up is cancelled; B's goes out tomorrow as planned.
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 3, "cancelled": 1}
    # The same history is not applied twice.
    assert poll(runtime, box).outcomes == []
    with runtime.sessions() as s:
        assert [e.enrollment_id for e in s.scalars(select(Event).where(
            Event.type == "replied"))] == [a]


def test_our_own_follow_up_in_the_thread_is_not_a_reply(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    a, _b = two_campaigns(rep, runtime, clock)
    poll(runtime, box)
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)  # both follow-ups go out, threaded in the rep's mailbox
    assert states(runtime) == {"sent": 4}
    # The rep also Cc'd themselves on A's thread: a copy lands in the INBOX with our header.
    sent = sent_to(runtime, a)
    raw = [m for m in google_fake.mailbox(REP).sent() if m.thread_id == sent.thread_id][-1]
    from tests.fakes.mail import parse

    google_fake.deliver(REP, parse(raw.raw))
    result = poll(runtime, box)
    assert [o.kind for o in result.outcomes] == ["own"]
    assert status(runtime, a) == EnrollmentStatus.FINISHED


def test_a_bounce_removes_the_person(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    a, b = two_campaigns(rep, runtime, clock)
    poll(runtime, box)
    google_fake.deliver(REP, bounce_of(sent_to(runtime, b), to=ZOE))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("bounce", b)]
    assert status(runtime, a) == status(runtime, b) == EnrollmentStatus.BOUNCED
    with runtime.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == ZOE))
        assert person is not None and person.bounced_at is not None
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 2, "cancelled": 2}


def test_out_of_office_pauses_and_resumes(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    a, _b = two_campaigns(rep, runtime, clock)
    poll(runtime, box)
    google_fake.deliver(REP, out_of_office(sent_to(runtime, a), frm=ZOE,
                                           back="Wednesday, 2 December"))
    result = poll(runtime, box)  # read from the metadata headers and Gmail's snippet
    assert [(o.kind, o.action) for o in result.outcomes] == [
        ("out_of_office", "held until Wed, 2 Dec 2026 in 2 campaign(s)")]
    assert status(runtime, a) == status(runtime, _b) == EnrollmentStatus.PAUSED
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)  # away from every campaign: both follow-ups wait
    assert states(runtime) == {"sent": 2, "scheduled": 2}
    view = rep.get(f"/api/v1/enrollments/{a}").json["steps"][1]
    assert view["reason"].startswith("paused until Wed, 2 Dec 2026 at 00:00 CET (out of office): ")
    clock.set(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # midnight in Paris, 2 December
    dispatch.tick(runtime)
    assert status(runtime, a) == status(runtime, _b) == EnrollmentStatus.ACTIVE
    with runtime.sessions() as s:
        follow_up = s.scalar(select(Send).where(Send.enrollment_id == a, Send.position == 1))
        assert follow_up is not None
        assert follow_up.due_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)  # 09:30 Paris
    clock.set(datetime(2026, 12, 2, 8, 30, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 4}


def test_a_stale_history_id_rescans_the_live_threads(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    _a, b = two_campaigns(rep, runtime, clock)
    poll(runtime, box)
    google_fake.deliver(REP, reply_to(sent_to(runtime, b), frm=ZOE))
    gbox = google_fake.mailbox(REP)
    gbox.oldest_history_id = gbox.history_id + 1  # Gmail forgot our history id: 404
    result = poll(runtime, box)
    assert result.rescanned
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("human", b)]
    assert status(runtime, b) == EnrollmentStatus.REPLIED
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None and row.sync_cursor == str(gbox.history_id)


def test_the_pre_send_check_catches_a_reply_the_poll_has_not_seen(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, _box = gmail_rep
    a, _b = two_campaigns(rep, runtime, clock)
    google_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE))
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    cycle(runtime)  # no poll ran: the send job reads A's thread right before sending
    assert status(runtime, a) == EnrollmentStatus.REPLIED
    assert states(runtime) == {"sent": 3, "cancelled": 1}
    assert len([m for m in google_fake.mailbox(REP).sent()]) == 3


def test_push_watch_is_renewed_and_a_push_triggers_the_poll(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock, client: FlaskClient
) -> None:
    import base64
    import json

    runtime.settings = runtime.settings.with_(gmail_pubsub_topic="projects/p/topics/gmail",
                                              push_token="s3cret-push")
    rep, box = gmail_rep
    a, _b = two_campaigns(rep, runtime, clock)  # its tick's poll job also set up the watch
    assert google_fake.watches[REP]["topicName"] == "projects/p/topics/gmail"
    assert google_fake.watches[REP]["labelIds"] == ["INBOX"]
    with runtime.sessions() as s:
        row = s.get(Mailbox, box)
        assert row is not None
        assert row.push_expires_at == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 7 days
    google_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE))
    data = base64.b64encode(json.dumps({"emailAddress": REP, "historyId": "9999"}).encode())
    envelope = {"message": {"data": data.decode(), "messageId": "1"},
                "subscription": "projects/p/subscriptions/s"}
    assert client.post("/push/gmail?token=wrong", json=envelope).status_code == 403
    assert client.post("/push/gmail?token=s3cret-push", json={"x": 1}).status_code == 400
    assert client.post("/push/gmail?token=s3cret-push", json=envelope).status_code == 204
    from tests.support.sending import drain

    drain(runtime)  # the poll job the push enqueued
    assert status(runtime, a) == EnrollmentStatus.REPLIED


def test_a_reply_a_filter_archived_still_counts(
    runtime: Runtime, gmail_rep: tuple[Actor, int], google_fake: GoogleFake,
    clock: FrozenClock
) -> None:
    rep, box = gmail_rep
    a, _b = two_campaigns(rep, runtime, clock)
    poll(runtime, box)
    # A Gmail filter skipped the inbox and marked it read: no INBOX label.
    google_fake.deliver(REP, reply_to(sent_to(runtime, a), frm=ZOE),
                        labels=("CATEGORY_PERSONAL",))
    result = poll(runtime, box)
    assert [(o.kind, o.enrollment_id) for o in result.outcomes] == [("human", a)]
    assert status(runtime, a) == EnrollmentStatus.REPLIED
