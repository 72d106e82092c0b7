"""The organisation's bulk-sender meter: emails to consumer Gmail / Yahoo / Outlook.com
addresses counted per primary sending domain and UTC day in the transaction of each send,
across reps; the warning at 70% (feed event, the admins emailed once); automatic first emails
held at the line when the organisation says so, released the next day. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.enums import SendState
from addin_server.guard import meter
from addin_server.models import BulkCount, Event, Mailbox, Organisation, Rep, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign


@pytest.fixture(autouse=True)
def _queue(runtime: Runtime) -> Iterator[None]:
    object.__setattr__(runtime, "settings",
                       runtime.settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}"))
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


@pytest.mark.parametrize(("address", "provider"), [
    ("a@gmail.com", "gmail"), ("a@GoogleMail.com", "gmail"), ("a@yahoo.com", "yahoo"),
    ("a@yahoo.co.uk", "yahoo"), ("a@yahoo.co.jp", "yahoo"), ("a@ymail.com", "yahoo"),
    ("a@aol.com", "yahoo"), ("a@outlook.com", "outlook"), ("a@hotmail.fr", "outlook"),
    ("a@hotmail.co.uk", "outlook"), ("a@live.com", "outlook"), ("a@msn.com", "outlook"),
    ("a@acme.com", None), ("a@live.acme.com", None), ("a@gmail.acme.com", None),
    ("a@yahoo-inc.com", None), ("a@outlook.acme.co.uk", None),
])
def test_consumer_provider(address: str, provider: str | None) -> None:
    assert meter.consumer_provider(address) == provider


@pytest.mark.parametrize(("address", "primary"), [
    ("ann@acme.com", "acme.com"), ("ann@mail.acme.com", "acme.com"),
    ("ann@sales.acme.co.uk", "acme.co.uk"), ("ann@acme.test", "acme.test"),
])
def test_primary_domain(address: str, primary: str) -> None:
    assert meter.primary_domain(address) == primary


def test_warn_at() -> None:
    assert meter.warn_at() == 3500
    assert meter.warn_at(10, 0.7) == 7


def consumer_people(n: int, domain: str, prefix: str = "p") -> list[dict[str, Any]]:
    return [{"email": f"{prefix}{i}@{domain}", "first_name": f"N{i}"} for i in range(n)]


def counts(runtime: Runtime) -> dict[tuple[str, str, date], int]:
    with runtime.sessions() as s:
        return {(r.domain, r.provider, r.day): r.n for r in s.scalars(select(BulkCount))}


def seed(runtime: Runtime, org_id: int, domain: str, provider: str, day: date, n: int) -> None:
    with runtime.sessions.begin() as s:
        s.add(BulkCount(org_id=org_id, domain=domain, day=day, provider=provider, n=n))


def org_of(runtime: Runtime, actor: Actor) -> int:
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
        assert box is not None
        rep = s.get(Rep, actor.rep_id)
        assert rep is not None
        return rep.org_id


def test_every_rep_counts_towards_the_domain_per_provider_and_day(
    runtime: Runtime, rep: Actor, client: Any, clock: FrozenClock
) -> None:
    bob = make_actor(runtime, client, "bob@mail.acme.test")  # same primary domain
    for actor, prefix in ((rep, "a"), (bob, "b")):
        cid = make_campaign(actor, [email_step(1)])
        launch(actor, cid, consumer_people(2, "gmail.com", prefix)
               + consumer_people(1, "yahoo.fr", prefix) + consumer_people(1, "corp.test", prefix))
    clock.advance(hours=2)
    cycle(runtime, 3)
    with runtime.sessions() as s:
        assert s.query(Send).filter(Send.state == SendState.SENT).count() == 8
    today = clock.at.date()
    assert counts(runtime) == {("acme.test", "gmail", today): 4,
                               ("acme.test", "yahoo", today): 2}
    org_id = org_of(runtime, rep)
    with runtime.sessions() as s:
        (domain,) = meter.meters(s, org_id, clock.at)
    assert domain.domain == "acme.test" and domain.level == "ok"
    assert {u.provider: u.n for u in domain.uses} == {"gmail": 4, "yahoo": 2, "outlook": 0}


def test_seventy_percent_warns_the_organisation_and_emails_the_admins_once(
    runtime: Runtime, rep: Actor, client: Any, clock: FrozenClock, smtp_fake: Any
) -> None:
    object.__setattr__(runtime, "settings", runtime.settings.with_(
        smtp_url=smtp_fake.url, mail_from="campaigns@acme.test"))
    make_actor(runtime, client, "carl@acme.test", admin=True)
    org_id = org_of(runtime, rep)
    seed(runtime, org_id, "acme.test", "gmail", clock.at.date(), 3498)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, consumer_people(3, "gmail.com"))
    clock.advance(hours=2)
    cycle(runtime, 3)
    assert counts(runtime)[("acme.test", "gmail", clock.at.date())] == 3501
    with runtime.sessions() as s:
        warnings = list(s.scalars(select(Event).where(Event.type == feed.BULK_WARNING)))
    (warning,) = warnings  # the 3,500th email, only
    assert warning.data["count"] == 3500 and warning.data["provider"] == "gmail"
    assert "70% of the 5,000 a day" in warning.data["reason"]
    (told,) = smtp_fake.messages
    assert told["To"] == "carl@acme.test"
    assert "acme.test" in told["Subject"] and "Gmail" in told["Subject"]
    cycle(runtime, 2)
    assert len(smtp_fake.messages) == 1


def test_at_the_line_first_emails_to_that_provider_wait_for_the_next_day(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    org_id = org_of(runtime, rep)
    with runtime.sessions.begin() as s:
        org = s.get(Organisation, org_id)
        assert org is not None
        org.bulk_hold = True
    seed(runtime, org_id, "acme.test", "gmail", clock.at.date(), 4999)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, consumer_people(3, "gmail.com") + consumer_people(1, "yahoo.com")
           + consumer_people(1, "corp.test"))
    clock.advance(hours=2)
    cycle(runtime, 3)
    today = clock.at.date()
    # One more to Gmail reached the line; Yahoo and the business address were not held.
    assert counts(runtime)[("acme.test", "gmail", today)] == 5000
    rows = rep.get("/api/v1/sends?limit=100").json["sends"]
    by_state: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_state.setdefault(r["state"], []).append(r)
    assert len(by_state["sent"]) == 3 and len(by_state["scheduled"]) == 2
    for waiting in by_state["scheduled"]:
        assert "bulk-sender meter" in waiting["reason"]
        assert "5,000 emails to Gmail users today" in waiting["reason"]
        assert "wait until" in waiting["reason"] and "00:00 UTC" in waiting["reason"]
        enrollment = rep.get(f"/api/v1/enrollments/{waiting['enrollment_id']}").json
        assert "bulk-sender meter" in enrollment["steps"][0]["reason"]
        assert enrollment["person"]["email"].endswith("@gmail.com")
    with runtime.sessions() as s:
        assert s.scalar(select(Event.id).where(Event.type == feed.BULK_LINE)) is not None
    # The next day they go (and count on that day).
    clock.set(datetime(today.year, today.month, today.day + 1, 8, 0, tzinfo=UTC))
    cycle(runtime, 3)
    rows = rep.get("/api/v1/sends?limit=100").json["sends"]
    assert sorted(r["state"] for r in rows) == ["sent"] * 5
    assert counts(runtime)[("acme.test", "gmail", clock.at.date())] == 2


def test_without_the_setting_the_line_only_warns(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    org_id = org_of(runtime, rep)
    seed(runtime, org_id, "acme.test", "gmail", clock.at.date(), 5000)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, consumer_people(2, "gmail.com"))
    clock.advance(hours=2)
    cycle(runtime, 3)
    rows = rep.get("/api/v1/sends?limit=100").json["sends"]
    assert sorted(r["state"] for r in rows) == ["sent", "sent"]
    assert counts(runtime)[("acme.test", "gmail", clock.at.date())] == 5002


def test_the_launch_forecast_shows_the_meter_and_what_the_line_would_hold(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    org_id = org_of(runtime, rep)
    with runtime.sessions.begin() as s:
        org = s.get(Organisation, org_id)
        assert org is not None
        org.bulk_hold = True
    seed(runtime, org_id, "acme.test", "gmail", clock.at.date(), 4998)
    cid = make_campaign(rep, [email_step(1)])
    dry = rep.post(f"/api/v1/campaigns/{cid}/launch", json={
        "people": consumer_people(4, "gmail.com") + consumer_people(2, "hotmail.fr")
        + consumer_people(3, "corp.test"), "dry_run": True})
    assert dry.status_code == 200, dry.json
    bulk = dry.json["forecast"]["bulk"]
    assert bulk["domain"] == "acme.test" and bulk["hold"] is True and bulk["line"] == 5000
    by = {d["provider"]: d for d in bulk["days"]}
    assert by.keys() == {"gmail", "outlook"}
    assert by["gmail"] == {"date": clock.at.date().isoformat(), "provider": "gmail",
                           "name": "Gmail", "before": 4998, "launch": 4, "total": 5002,
                           "level": "line", "held": 2}
    assert by["outlook"]["launch"] == 2 and by["outlook"]["level"] == "ok"
    assert by["outlook"]["held"] == 0
    with runtime.sessions() as s:  # a dry run counts nothing
        assert s.scalar(select(BulkCount.n).where(BulkCount.provider == "gmail")) == 4998
