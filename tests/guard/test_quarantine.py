"""Bounce quarantine: a bounced address is suppressed with the DSN's code and text; a burst of
reports from one provider is held for review instead of ending enrollments; an admin releases
the burst in one action and the people it held resume. Both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.enums import EnrollmentStatus
from addin_server.guard.rules import Thresholds
from addin_server.inbound.rules import process_inbound
from addin_server.models import Bounce, Enrollment, Event, Mailbox, Person, Suppression
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.replies import campaign, fixture, launch, mark_sent

BURST = Thresholds(burst_count=3, burst_minutes=10)


def _bounce(session: Session, actor: Actor, n: int, address: str, clock: FrozenClock) -> str:
    box = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert box is not None
    msg = fixture("gmail_bounce.eml", {"nobody@globex.test": address,
                                       "<campaign-41.1@acme.test>": f"<m{n}@acme.test>"})
    return process_inbound(session, box, msg, provider_message_id=f"dsn{n}", thread_id=f"t{n}",
                           now=clock(), guard=BURST).action


def _status(session: Session, eid: int) -> EnrollmentStatus:
    e = session.get(Enrollment, eid)
    assert e is not None
    session.refresh(e)
    return e.status


def test_a_burst_is_held_for_review_and_an_admin_releases_it(
    runtime: Runtime, rep: Actor, client: Any, session: Session, clock: FrozenClock
) -> None:
    admin = make_actor(runtime, client, "carl@acme.test", admin=True)
    addresses = [f"p{i}@globex.test" for i in range(4)]
    eids = launch(rep, campaign(rep, "Storm"), *addresses)
    for n, eid in enumerate(eids):
        mark_sent(session, eid, clock(), thread=f"t{n}", message_id=f"<m{n}@acme.test>")
    actions = []
    for n, address in enumerate(addresses):
        actions.append(_bounce(session, rep, n, address, clock))
        clock.advance(minutes=2)
    # The first two act as bounces: suppressed with the DSN's code and text.
    assert [_status(session, e) for e in eids[:2]] == [EnrollmentStatus.BOUNCED] * 2
    note = session.scalar(select(Suppression.note).where(Suppression.email == addresses[0]))
    assert note is not None and note.startswith("5.1.1 550-5.1.1 The email account")
    # From the third in ten minutes from googlemail.com: held, not ended, not suppressed.
    assert actions[2].startswith("held for review: a burst of bounces from googlemail.com")
    assert [_status(session, e) for e in eids[2:]] == [EnrollmentStatus.PAUSED] * 2
    for address in addresses[2:]:
        person = session.scalar(select(Person).where(Person.email == address))
        assert person is not None and person.bounced_at is None
        assert session.scalar(select(Suppression.id).where(Suppression.email == address)) is None
    held = list(session.scalars(select(Bounce).where(Bounce.held.is_(True))))
    assert [b.address for b in held] == addresses[2:]
    assert len(list(session.scalars(select(Event).where(Event.type == feed.BOUNCE_HELD)))) == 2
    session.commit()
    steps = rep.get(f"/api/v1/enrollments/{eids[2]}").json["steps"]
    assert "held for review" in steps[1]["reason"]

    assert rep.get("/api/v1/bounces/held").status_code == 403
    (burst,) = admin.get("/api/v1/bounces/held").json["bursts"]
    assert (burst["provider"], burst["bounces"]) == ("googlemail.com", 2)
    bad = admin.post("/api/v1/bounces/held/release", json={"provider": "yahoo.com"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "provider"
    assert rep.post("/api/v1/bounces/held/release",
                    json={"provider": "googlemail.com"}).status_code == 403
    done = admin.post("/api/v1/bounces/held/release", json={"provider": "googlemail.com"})
    assert done.status_code == 200 and done.json["resumed"] == 2
    session.expire_all()
    assert [_status(session, e) for e in eids[2:]] == [EnrollmentStatus.ACTIVE] * 2
    session.rollback()
    assert admin.get("/api/v1/bounces/held").json["bursts"] == []


def test_bounces_spread_over_time_are_not_a_burst(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    addresses = [f"q{i}@globex.test" for i in range(3)]
    eids = launch(rep, campaign(rep, "Slow"), *addresses)
    for n, eid in enumerate(eids):
        mark_sent(session, eid, clock(), thread=f"t{n}", message_id=f"<m{n}@acme.test>")
    for n, address in enumerate(addresses):
        _bounce(session, rep, n, address, clock)
        clock.advance(minutes=6)
    assert [_status(session, e) for e in eids] == [EnrollmentStatus.BOUNCED] * 3
    assert session.scalar(select(Bounce.id).where(Bounce.held.is_(True))) is None
