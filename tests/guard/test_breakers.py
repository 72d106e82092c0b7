"""The hard-bounce breakers end to end: sends refused by the fake provider (over HTTP, as the
real adapters classify them) trip the mailbox, domain and campaign breakers; the waiting sends
say why; a person releases them through the API; the cooling-off time; the email to the rep
and admins. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rq import Queue
from sqlalchemy import select

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import SendState
from addin_server.models import Bounce, Campaign, Event, Mailbox, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.provider import FakeProviderServer
from tests.support.sending import cycle, email_step, launch, make_campaign, people

REFUSED = "550 5.1.1 The email account that you tried to reach does not exist"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeProviderServer) -> Settings:
    requests.post(fake.url + "/_reset", timeout=5)
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}",
                          mailbox_factory="tests.fakes.provider:open_fake",
                          extra={"fake_provider_url": fake.url})


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def refuse(fake: FakeProviderServer, count: int) -> None:
    requests.post(fake.url + "/_script", json={"op": "create_draft", "status": 400,
                                               "count": count, "message": REFUSED},
                  timeout=5).raise_for_status()


def accepted(fake: FakeProviderServer) -> int:
    return sum(requests.get(fake.url + "/_stats", timeout=5).json()["accepted"].values())


def tune(runtime: Runtime, **values: Any) -> None:
    """Thresholds for a small test (settings are read by the job and the duties each time)."""
    object.__setattr__(runtime, "settings", runtime.settings.with_(**values))


def sends(runtime: Runtime, rep: Actor) -> list[dict[str, Any]]:
    body = rep.get("/api/v1/sends?limit=100").json
    return list(body["sends"])


def mailbox_of(runtime: Runtime, actor: Actor) -> Mailbox:
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
        assert box is not None
        return box


def events(runtime: Runtime, type_: str) -> list[Event]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def test_three_hard_bounces_pause_the_mailbox_until_a_person_releases_it(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(6))
    clock.advance(hours=1)
    refuse(fake, 3)
    cycle(runtime, 2)
    box = mailbox_of(runtime, rep)
    assert "3 hard bounces in its last 3 emails" in box.guard_reason
    assert box.guard_scope == "mailbox"
    assert accepted(fake) == 0  # nothing went out after the third bounce
    rows = sends(runtime, rep)
    assert sorted(r["state"] for r in rows) == ["failed"] * 3 + ["scheduled"] * 3
    waiting = [r for r in rows if r["state"] == "scheduled"]
    assert all("bounce breaker" in r["reason"] and "release it" in r["reason"]
               for r in waiting)
    # The person's page says it too.
    steps = rep.get(f"/api/v1/enrollments/{waiting[0]['enrollment_id']}").json["steps"]
    assert "bounce breaker" in steps[0]["reason"]
    (tripped,) = events(runtime, feed.BREAKER_TRIPPED)
    assert tripped.rep_id == rep.rep_id and tripped.data["scope"] == "mailbox"
    with runtime.sessions() as s:
        codes = {(b.code, b.source) for b in s.scalars(select(Bounce))}
    assert codes == {("5.1.1", "api")}
    limits = rep.get(f"/api/v1/mailboxes/{box.id}/limits").json
    assert limits["breaker"]["scope"] == "mailbox"

    cycle(runtime, 2)
    assert accepted(fake) == 0  # still paused: only a person releases it
    released = rep.post(f"/api/v1/mailboxes/{box.id}/breaker/release")
    assert released.status_code == 200, released.json
    assert released.json["breaker"] is None
    cycle(runtime, 2)
    assert accepted(fake) == 3
    assert [e.data["by"] for e in events(runtime, feed.BREAKER_RELEASED)] == [rep.email]
    again = rep.post(f"/api/v1/mailboxes/{box.id}/breaker/release")
    assert again.status_code == 409 and again.json["errors"][0]["field"] == "mailbox_id"


def test_a_rep_cannot_release_another_organisations_mailbox(
    runtime: Runtime, rep: Actor, client: Any
) -> None:
    stranger = make_actor(runtime, client, "eve@other.test", org="Other", admin=True)
    box = mailbox_of(runtime, rep)
    assert stranger.post(f"/api/v1/mailboxes/{box.id}/breaker/release").status_code == 404


def test_the_domain_breaker_pauses_every_mailbox_on_the_domain(
    runtime: Runtime, rep: Actor, client: Any, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    tune(runtime, guard_mailbox_burst=100, guard_domain_min_sample=4, guard_domain_rate=0.5,
         guard_domain_hours=72)
    bob = make_actor(runtime, client, "bob@acme.test")
    admin = make_actor(runtime, client, "carl@acme.test", admin=True)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(2, "a"))
    clock.advance(hours=1)
    cycle(runtime, 2)
    assert accepted(fake) == 2
    launch(rep, cid, people(2, "b"))
    bob_cid = make_campaign(bob, [email_step(1)])
    clock.advance(days=1)
    refuse(fake, 2)
    cycle(runtime, 2)  # ann's two bounce: 2 of 4 emails on acme.test in 24 h
    launch(bob, bob_cid, people(1, "c"))
    clock.advance(days=1)
    cycle(runtime, 2)
    assert accepted(fake) == 2  # bob's email waits too
    ann_box, bob_box = mailbox_of(runtime, rep), mailbox_of(runtime, bob)
    for box in (ann_box, bob_box):
        assert box.guard_scope == "domain"
        assert box.guard_reason.startswith("domain acme.test: 2 hard bounces in 4 emails over 72 h")
    (waiting,) = sends(runtime, bob)
    assert "its domain's bounce breaker" in waiting["reason"]
    refused = bob.post(f"/api/v1/mailboxes/{bob_box.id}/breaker/release")
    assert refused.status_code == 403
    assert admin.post(f"/api/v1/mailboxes/{ann_box.id}/breaker/release").status_code == 200
    assert not mailbox_of(runtime, bob).guard_reason  # one release frees the whole domain
    cycle(runtime, 2)
    assert accepted(fake) == 3


def test_the_campaign_breaker_starts_nobody_new_but_lets_started_people_go_on(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    tune(runtime, guard_mailbox_burst=100, guard_campaign_min_sample=4,
         guard_campaign_rate=0.5, guard_domain_min_sample=1000)
    cid = make_campaign(rep, [email_step(1), email_step(3)])
    launch(rep, cid, people(2, "a"))
    clock.advance(hours=1)
    cycle(runtime, 2)
    assert accepted(fake) == 2
    refuse(fake, 2)
    launch(rep, cid, people(3, "b"))
    clock.advance(days=1)
    cycle(runtime, 2)  # two of the three new people bounce: 2 of 4 first emails
    with runtime.sessions() as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        assert "2 of its 4 first emails bounced" in campaign.guard_reason
    assert accepted(fake) == 2
    assert rep.get(f"/api/v1/campaigns/{cid}").json["breaker"]["scope"] == "campaign"
    new = [r for r in sends(runtime, rep) if r["state"] == "scheduled" and r["position"] == 0]
    assert len(new) == 1 and "no new person starts" in new[0]["reason"]
    clock.advance(days=2)
    cycle(runtime, 2)  # the people already started get their second email
    assert accepted(fake) == 4
    assert rep.post(f"/api/v1/campaigns/{cid}/breaker/release").status_code == 200
    cycle(runtime, 2)
    assert accepted(fake) == 5


def test_cooling_off_releases_the_mailbox_at_a_lower_cap(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    tune(runtime, guard_cooloff_hours=6, guard_cooloff_cap=15)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(4))
    clock.advance(hours=1)
    refuse(fake, 3)
    cycle(runtime, 2)
    assert mailbox_of(runtime, rep).guard_reason
    clock.advance(hours=5)
    cycle(runtime, 1)
    assert accepted(fake) == 0
    clock.advance(hours=1, minutes=1)
    cycle(runtime, 2)
    box = mailbox_of(runtime, rep)
    assert not box.guard_reason and box.daily_cap == 15
    assert accepted(fake) == 1
    (released,) = events(runtime, feed.BREAKER_RELEASED)
    assert released.data["by"] == "cooling-off time" and released.data["daily_cap"] == 15


def test_temporary_failures_are_retried_and_never_counted(
    runtime: Runtime, rep: Actor, clock: FrozenClock, fake: FakeProviderServer
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(3))
    clock.advance(hours=1)
    requests.post(fake.url + "/_script", json={"op": "create_draft", "status": 429,
                                               "count": 3, "message": "4.7.28 try later"},
                  timeout=5).raise_for_status()
    cycle(runtime, 2)
    clock.advance(hours=2)
    cycle(runtime, 2)
    assert accepted(fake) == 3
    with runtime.sessions() as s:
        assert s.scalar(select(Bounce.id)) is None
        assert not s.scalars(select(Send).where(Send.state == SendState.FAILED)).all()
    assert not mailbox_of(runtime, rep).guard_reason


def test_rep_and_admins_are_emailed_once_when_smtp_is_configured(
    runtime: Runtime, rep: Actor, client: Any, clock: FrozenClock, fake: FakeProviderServer,
    smtp_fake: Any
) -> None:
    tune(runtime, smtp_url=smtp_fake.url, mail_from="campaigns@acme.test")
    make_actor(runtime, client, "carl@acme.test", admin=True)
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(3))
    clock.advance(hours=1)
    refuse(fake, 3)
    cycle(runtime, 3)
    (told,) = smtp_fake.messages
    assert told["To"] == "ann@acme.test, carl@acme.test"
    assert "ann@acme.test" in told["Subject"]
    assert "3 hard bounces" in told.get_content()
