"""End to end on both real providers' client libraries: the rep connects Gmail or Microsoft 365
through the web, launches a campaign, the dispatcher and the RQ job send through the fakes, and
the recipient's fake inbox shows what a person would see. Both databases, a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server import crypto, dates, feed
from addin_server.config import Settings
from addin_server.enums import MailboxStatus, SendState
from addin_server.models import Event, Mailbox, Send
from addin_server.runtime import Runtime
from addin_server.sending import dispatcher as dispatch
from tests.conftest import FrozenClock, make_actor
from tests.fakes.fixtures import fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.mail import RecipientView
from tests.fakes.microsoft import MicrosoftFake
from tests.support.sending import cycle, drain, email_step, launch, make_campaign

CONTACT = "zoe@corp.test"
PROVIDERS = ["google", "microsoft"]


@pytest.fixture
def settings(settings: Settings, google_fake: GoogleFake, microsoft_fake: MicrosoftFake,
             smtp_fake: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is http
    return fake_settings(
        settings.with_(encryption_keys=(crypto.new_key(),),
                       queue_name=f"e2e-{uuid.uuid4().hex[:8]}",
                       smtp_url=smtp_fake.url, mail_from="campaigns@acme.test"),
        google=google_fake, microsoft=microsoft_fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


class World:
    """One provider's side of a test: its fake, the rep's address there, helpers."""

    def __init__(self, provider: str, google: GoogleFake, microsoft: MicrosoftFake,
                 runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
        self.provider = provider
        self.fake: Any = google if provider == "google" else microsoft
        self.fake.clock = clock
        self.address = "ann@acme.test" if provider == "google" else "ann@contoso.test"
        self.runtime, self.client = runtime, client
        self.rep = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)

    def connect(self) -> None:
        with self.client.session_transaction() as s:
            s["rep_id"] = self.rep.rep_id
            s["session_version"] = 1
        start = self.client.get(f"/connect/{self.provider}")
        assert start.status_code == 302, start.text
        back = urlparse(self.fake.consent(start.headers["Location"], self.address))
        done = self.client.get(f"{back.path}?{back.query}")
        assert done.status_code == 200, done.text

    def inbox(self) -> RecipientView:
        return self.fake.recipient_view(CONTACT)

    def mailbox_row(self) -> Mailbox:
        with self.runtime.sessions() as s:
            row = s.scalar(select(Mailbox).where(Mailbox.rep_id == self.rep.rep_id))
            assert row is not None
            return row

    def sends(self) -> list[Send]:
        with self.runtime.sessions() as s:
            return list(s.scalars(select(Send).order_by(Send.enrollment_id, Send.position)))

    def step_reason(self, enrollment_id: int, position: int = 0) -> str:
        view = self.rep.get(f"/api/v1/enrollments/{enrollment_id}").json
        return str(view["steps"][position]["reason"])


@pytest.fixture(params=PROVIDERS)
def world(request: pytest.FixtureRequest, google_fake: GoogleFake,
          microsoft_fake: MicrosoftFake, runtime: Runtime, client: FlaskClient,
          clock: FrozenClock) -> World:
    w = World(request.param, google_fake, microsoft_fake, runtime, client, clock)
    w.connect()
    return w


THREAD = [
    email_step(1, subject="Quick question, {{first_name}}",
               body_html="<p>Hello {{first_name}}, one idea.</p>"),
    email_step(2, send_option="same_time_as_previous", reply_to_previous=True, subject="",
               body_html="<p>Following up.</p>"),
    email_step(3, send_option="same_time_as_previous", reply_to_previous=True, subject="",
               body_html="<p>Last try.</p>"),
    email_step(4, send_option="fixed_time", send_time="11:00", subject="Something else",
               body_html="<p>A new topic.</p>"),
]


def test_a_three_email_thread_and_a_new_topic_reach_the_inbox(
    world: World, clock: FrozenClock
) -> None:
    cid = make_campaign(world.rep, THREAD)
    launch(world.rep, cid, [{"email": CONTACT, "first_name": "Zoe"}])
    # Tue 24 Nov 09:30 Paris = 08:30Z, then 09:30 on days 2 and 3, then 11:00 on day 4.
    clock.set(datetime(2026, 11, 24, 8, 29, tzinfo=UTC))
    cycle(world.runtime, 1)
    assert world.inbox().messages == []  # not due yet
    for day in (24, 25, 26):
        clock.set(datetime(2026, 11, day, 8, 31, tzinfo=UTC))
        cycle(world.runtime, 2)
    clock.set(datetime(2026, 11, 27, 10, 1, tzinfo=UTC))
    cycle(world.runtime, 2)

    sends = world.sends()
    assert [s.state for s in sends] == [SendState.SENT] * 4
    threads = world.inbox().threads()
    assert [len(t) for t in threads] == [3, 1]
    first, second, third = threads[0]
    assert first.subject == "Quick question, Zoe"
    assert second.subject == third.subject == "Re: Quick question, Zoe"
    assert [m.message_id for m in threads[0]] == [s.rfc_message_id for s in sends[:3]]
    assert second.in_reply_to == first.message_id
    assert third.in_reply_to == second.message_id
    assert third.references == [first.message_id, second.message_id]
    # The quotes are the bodies actually sent, newest first.
    html = third.html
    assert html.index("Last try.") < html.index("Following up.") < html.index("one idea.")
    assert "Hello Zoe, one idea." in html
    assert threads[1][0].subject == "Something else"
    # The sender's mailbox: one Gmail thread / one Outlook conversation for the three.
    assert sends[0].thread_id == sends[1].thread_id == sends[2].thread_id
    assert sends[3].thread_id != sends[0].thread_id
    assert all(m.from_addr == world.address for t in threads for m in t)


def test_choose_at_launch_and_manual_task_go_out_through_the_provider(
    world: World, clock: FrozenClock
) -> None:
    chosen = make_campaign(world.rep, [email_step(1, send_option="choose_at_launch",
                                                  send_time=None, subject="Chosen time")])
    launch(world.rep, chosen, [{"email": CONTACT}], first_send_at="2026-11-24T10:15:00Z")
    manual = make_campaign(world.rep, [email_step(1, send_option="manual_task", send_time=None,
                                                  subject="Idea for {{company}}")])
    launch(world.rep, manual, [{"email": "max@corp.test", "company": "Corp"}])
    (task,) = world.rep.get("/api/v1/tasks?status=open").json["tasks"]
    sent = world.rep.post(f"/api/v1/tasks/{task['id']}/send",
                          json={"subject": "Idea for Corp", "body_html": "<p>Written by me</p>"})
    assert sent.status_code == 201, sent.json
    cycle(world.runtime, 1)
    (mine,) = world.fake.recipient_view("max@corp.test").messages
    assert mine.subject == "Idea for Corp" and "Written by me" in mine.html
    assert world.inbox().messages == []  # 10:15 is not here yet
    clock.set(datetime(2026, 11, 24, 10, 15, tzinfo=UTC))
    cycle(world.runtime, 1)
    assert [m.subject for m in world.inbox().messages] == ["Chosen time"]


def test_a_revoked_grant_holds_the_sends_until_the_rep_reconnects(
    world: World, clock: FrozenClock, smtp_fake: Any
) -> None:
    cid = make_campaign(world.rep, [email_step(1)])
    (eid,) = launch(world.rep, cid, [{"email": CONTACT, "first_name": "Zoe"}])
    world.fake.revoke(world.address)
    if world.provider == "google":
        world.fake.expire_access_tokens()
    else:  # msal would use its cached access token until it expires
        _expire_msal_access_tokens(world)
    clock.set(datetime(2026, 11, 24, 8, 31, tzinfo=UTC))
    cycle(world.runtime, 2)
    row = world.mailbox_row()
    assert row.status == MailboxStatus.DISCONNECTED
    assert world.sends()[0].state == SendState.SCHEDULED
    assert "is disconnected" in world.step_reason(eid)
    assert world.inbox().messages == []
    # The rep was emailed once (through the operator's relay), with the reconnect link.
    cycle(world.runtime, 1)
    (told,) = smtp_fake.messages
    assert told["To"] == "ann@acme.test"
    assert f"Reconnect {world.address}" in told["Subject"]
    assert f"https://campaigns.example.test/connect/{world.provider}" in told.get_content()
    # The rep signs in again (a new grant), and the held send goes out, once.
    world.connect()
    assert world.mailbox_row().status == MailboxStatus.CONNECTED
    cycle(world.runtime, 2)
    assert len(world.inbox().messages) == 1
    assert world.sends()[0].state == SendState.SENT
    with world.runtime.sessions() as s:
        types = [e.type for e in s.scalars(select(Event).order_by(Event.id))]
    assert types.count(feed.MAILBOX_DISCONNECTED) == 1
    assert types.count(feed.MAILBOX_RECONNECTED) == 1


def _expire_msal_access_tokens(world: World) -> None:
    import json

    from addin_server.mailboxes.credentials import (
        MicrosoftGrant,
        load_microsoft,
        save_microsoft,
    )

    with world.runtime.sessions.begin() as s:
        row = s.scalar(select(Mailbox).where(Mailbox.rep_id == world.rep.rep_id))
        assert row is not None
        grant = load_microsoft(world.runtime.settings, row)
        cache = json.loads(grant.cache)
        for entry in cache["AccessToken"].values():
            entry["expires_on"] = entry["extended_expires_on"] = "1000"
        save_microsoft(world.runtime.settings, row,
                       MicrosoftGrant(json.dumps(cache), grant.home_account_id, grant.username))


def test_a_provider_limit_pauses_the_mailbox_and_says_so(
    world: World, clock: FrozenClock
) -> None:
    cid = make_campaign(world.rep, [email_step(1)])
    eids = launch(world.rep, cid, [{"email": CONTACT, "first_name": "Zoe"},
                                    {"email": "max@corp.test", "first_name": "Max"}])
    clock.set(datetime(2026, 11, 24, 8, 31, tzinfo=UTC))
    if world.provider == "google":
        world.fake.fail("drafts.send", 429, "User-rate limit exceeded.  Retry after "
                        "2026-11-24T14:05:00.000Z (Mail sending)", reason="rateLimitExceeded")
        label, until = "Gmail", datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    else:
        world.fake.fail("messages.create", 429, "ApplicationThrottled", "throttled",
                        headers={"Retry-After": "3600"})
        label, until = "Microsoft", datetime(2026, 11, 24, 9, 31, tzinfo=UTC)
    cycle(world.runtime, 2)
    assert world.inbox().messages == []
    assert world.fake.recipient_view("max@corp.test").messages == []
    assert world.mailbox_row().paused_until == until
    for eid in eids:
        assert world.step_reason(eid) == (
            f"mailbox paused by {label} until {dates.absolute(until, 'UTC', named=True)}")
    clock.set(until.replace(minute=until.minute + 1))
    cycle(world.runtime, 2)
    both = (world.inbox(), world.fake.recipient_view("max@corp.test"))
    assert sum(len(v.messages) for v in both) == 1  # then the mailbox's pace: one at a time
    clock.advance(seconds=world.mailbox_row().min_gap_seconds)
    cycle(world.runtime, 2)
    assert len(world.inbox().messages) == 1
    assert len(world.fake.recipient_view("max@corp.test").messages) == 1
    assert [s.state for s in world.sends()] == [SendState.SENT] * 2


def test_a_lost_send_response_is_reconciled_and_sent_once(
    world: World, clock: FrozenClock
) -> None:
    cid = make_campaign(world.rep, [email_step(1)])
    launch(world.rep, cid, [{"email": CONTACT, "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 31, tzinfo=UTC))
    world.fake.drop_after("drafts.send" if world.provider == "google" else "messages.send")
    dispatch.tick(world.runtime)
    drain(world.runtime)
    (send,) = world.sends()
    assert send.state == SendState.UNKNOWN
    assert len(world.inbox().messages) == 1  # it did go out
    clock.advance(seconds=world.runtime.settings.reconcile_grace_seconds + 1)
    cycle(world.runtime, 2)
    (send,) = world.sends()
    assert send.state == SendState.SENT
    assert send.rfc_message_id == world.inbox().messages[0].message_id
    assert len(world.inbox().messages) == 1  # and only once
