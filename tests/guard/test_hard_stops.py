"""Provider hard stops mapped to actions: one test per row of the table in
docs/deliverability.md, as a DSN in the rep's inbox (the providers' real report formats) and,
for Gmail's sending limit, as the Gmail API's own error (the Google fake's wire format) through
the send job. None of them is a bounce of the person. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.enums import EnrollmentStatus
from addin_server.guard.breakers import status_code
from addin_server.guard.rules import SENDING_LIMIT, hard_stop
from addin_server.inbound.rules import process_inbound
from addin_server.mailboxes.port import MailboxPaused
from addin_server.models import Bounce, Enrollment, Event, Mailbox, Person, Suppression
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.provider import FakeProviderServer
from tests.mailboxes.test_gmail import _first, _open
from tests.support.replies import campaign, fixture, launch, mark_sent
from tests.support.sending import cycle, email_step, make_campaign, people
from tests.support.sending import launch as launch_people


def _box(session: Session, actor: Actor) -> Mailbox:
    found = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert found is not None
    return found


def _gmail_dsn(status: str, diagnostic: str) -> Any:
    return fixture("gmail_bounce.eml", {
        "Status: 5.1.1": f"Status: {status}",
        "550-5.1.1 The email account that you tried to reach does not exist.": diagnostic,
        "nobody@globex.test": "bob@globex.test",
        "<campaign-41.1@acme.test>": "<a1@acme.test>"})


def _exchange_ndr(status: str, diagnostic: str) -> Any:
    return fixture("exchange_ndr.eml", {
        "Status: 5.1.10": f"Status: {status}",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient gone.person@fabrikam.test not "
        "found by SMTP address lookup": diagnostic,
        "gone.person@fabrikam.test": "bob@globex.test"})


def _one_sent(rep: Actor, session: Session, clock: FrozenClock) -> int:
    (eid,) = launch(rep, campaign(rep, "Stops"), "bob@globex.test")
    mark_sent(session, eid, clock(), thread="t-a", message_id="<a1@acme.test>")
    return eid


def _not_a_bounce(session: Session, eid: int) -> None:
    enrollment = session.get(Enrollment, eid)
    assert enrollment is not None and enrollment.status == EnrollmentStatus.ACTIVE
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None and person.bounced_at is None
    assert session.scalar(select(Suppression.id)) is None
    assert session.scalar(select(Bounce.id)) is None


def test_gmail_5_4_5_pauses_the_mailbox_for_24_hours_and_lowers_its_cap(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    eid = _one_sent(rep, session, clock)
    box = _box(session, rep)
    box.daily_cap = 400
    out = process_inbound(session, box, _gmail_dsn(
        "5.4.5", "550 5.4.5 Daily user sending limit exceeded. For more information on Gmail "
                 "sending limits go to https://support.google.com/a/answer/166852"),
        provider_message_id="s1", thread_id="t-a", now=clock())
    assert out.kind == "hard_stop"
    assert box.paused_until == clock() + timedelta(hours=24)
    assert box.daily_cap == 200
    assert "daily sending limit reached (5.4.5)" in box.status_reason
    _not_a_bounce(session, eid)
    # Told twice (a second DSN of the same limit): the cap is lowered once.
    process_inbound(session, box, _gmail_dsn("5.4.5", "550 5.4.5 Daily user sending quota "
                                                      "exceeded."),
                    provider_message_id="s2", thread_id="t-a", now=clock())
    assert box.daily_cap == 200


def test_exchange_5_1_8_pauses_the_mailbox_until_an_exchange_admin_releases_it(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    eid = _one_sent(rep, session, clock)
    box = _box(session, rep)
    out = process_inbound(session, box, _exchange_ndr(
        "5.1.8", "550 5.1.8 Access denied, bad outbound sender. AS(42004)"),
        provider_message_id="s1", thread_id="conv", now=clock())
    assert out.kind == "hard_stop"
    assert box.guard_scope == "restricted" and "an Exchange admin must release it" in \
        box.guard_reason
    (event,) = session.scalars(select(Event).where(Event.type == feed.BREAKER_TRIPPED))
    assert event.rep_id == rep.rep_id  # the rep, and the admins who see every event
    _not_a_bounce(session, eid)
    # Once the Exchange admin has freed it, a person releases it here.
    session.commit()
    assert rep.post(f"/api/v1/mailboxes/{box.id}/breaker/release").status_code == 200


@pytest.mark.parametrize(("dsn", "status", "diagnostic", "fix"), [
    (_exchange_ndr, "5.7.515", "550 5.7.515 Access denied, sending domain [ACME.TEST] does not "
     "meet the required authentication level.", "SPF, DKIM and DMARC"),
    (_gmail_dsn, "5.7.26", "550-5.7.26 Unauthenticated email from acme.test is not accepted "
     "due to domain's DMARC policy.", "DMARC"),
    (_gmail_dsn, "4.7.32", "421-4.7.32 Your email has been rate limited because the From: "
     "header (RFC5322) in this message isn't aligned with either the authenticated SPF or "
     "DKIM organizational domain.", "aligned with neither"),
])
def test_authentication_refusals_flag_the_domain_with_what_to_fix(
    runtime: Runtime, rep: Actor, client: Any, session: Session, clock: FrozenClock,
    dsn: Any, status: str, diagnostic: str, fix: str,
) -> None:
    bob = make_actor(runtime, client, "bob@acme.test")
    eid = _one_sent(rep, session, clock)
    box = _box(session, rep)
    out = process_inbound(session, box, dsn(status, diagnostic), provider_message_id="s1",
                          thread_id="t-a", now=clock())
    assert out.kind == "hard_stop"
    for mailbox in (box, _box(session, bob)):  # every mailbox on acme.test
        assert mailbox.guard_warning.startswith(status) and fix in mailbox.guard_warning
        assert not mailbox.guard_reason and mailbox.paused_until is None  # flagged, not paused
    (event,) = session.scalars(select(Event).where(Event.type == feed.DOMAIN_FLAGGED))
    assert event.data["domain"] == "acme.test" and event.data["code"] == status
    _not_a_bounce(session, eid)


def test_a_temporary_failure_is_never_a_bounce(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    eid = _one_sent(rep, session, clock)
    out = process_inbound(session, _box(session, rep), _gmail_dsn(
        "4.2.2", "452-4.2.2 The email account that you tried to reach is over quota."),
        provider_message_id="s1", thread_id="t-a", now=clock())
    assert out.kind == "temporary"
    _not_a_bounce(session, eid)


def test_the_gmail_api_sending_limit_is_the_same_hard_stop(
    gmail_runtime: Runtime, google_fake: Any
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    draft = mailbox.create_draft(_first())
    google_fake.fail("drafts.send", 429, "User-rate limit exceeded.  Retry after "
                     "2026-11-24T14:05:00.000Z (Mail sending)", reason="rateLimitExceeded")
    with pytest.raises(MailboxPaused) as exc:
        mailbox.send_draft(draft)
    stop = hard_stop(status_code(str(exc.value)), str(exc.value))
    assert stop is not None and (stop.kind, stop.code) == (SENDING_LIMIT, "5.4.5")


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


def test_the_send_job_pauses_at_the_providers_time_and_lowers_the_cap(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    object.__setattr__(runtime, "settings", runtime.settings.with_(
        queue_name=f"t-{uuid.uuid4().hex[:8]}", mailbox_factory="tests.fakes.provider:open_fake",
        extra={"fake_provider_url": fake.url}))
    try:
        cid = make_campaign(rep, [email_step(1)])
        launch_people(rep, cid, people(1))
        clock.advance(hours=1)
        until = clock.at + timedelta(hours=5)
        requests.post(fake.url + "/_script", json={
            "op": "send", "status": 403, "count": 1, "body": {"paused_until": until.isoformat()},
            "message": "User-rate limit exceeded.  Retry after (Mail sending)"},
            timeout=5).raise_for_status()
        cycle(runtime, 1)
        with runtime.sessions() as s:
            box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.rep_id))
            assert box is not None
            assert box.paused_until == until  # the provider's time, not 24 h
            assert box.daily_cap == runtime.settings.gmail_daily_cap // 2
            assert s.scalar(select(Bounce.id)) is None
    finally:
        Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()
