"""Bounces that come back as DSNs in the rep's inbox count for the breakers too: the inbound
rules record them, the dispatcher's duty evaluates them. A delay notice (4.x.x) never counts.
Both databases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.inbound.rules import process_inbound
from addin_server.models import Bounce, Event, Mailbox, Send
from addin_server.runtime import Runtime
from addin_server.workers.duties import guard_breakers
from tests.conftest import Actor, FrozenClock
from tests.support.replies import campaign, fixture, launch, mark_sent


def _box(session: Session, actor: Actor) -> Mailbox:
    found = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert found is not None
    return found


def _bounce(session: Session, actor: Actor, eid: int, address: str, n: int,
            clock: FrozenClock) -> None:
    send = session.scalar(select(Send).where(Send.enrollment_id == eid, Send.position == 0))
    assert send is not None
    msg = fixture("gmail_bounce.eml", {"nobody@globex.test": address,
                                       "<campaign-41.1@acme.test>": f"<m{n}@acme.test>",
                                       "X-Campaign-Send-Id: 41": f"X-Campaign-Send-Id: "
                                                                 f"{send.id}"})
    out = process_inbound(session, _box(session, actor), msg, provider_message_id=f"dsn{n}",
                          thread_id=f"t{n}", now=clock())
    assert out.kind == "bounce" and out.enrollment_id == eid


def test_three_dsns_trip_the_mailbox_breaker_at_the_next_duty(
    runtime: Runtime, rep: Actor, session: Session, clock: FrozenClock
) -> None:
    addresses = [f"p{i}@globex.test" for i in range(3)]
    eids = launch(rep, campaign(rep, "DSN"), *addresses)
    for n, eid in enumerate(eids):
        mark_sent(session, eid, clock(), thread=f"t{n}", message_id=f"<m{n}@acme.test>")
    for n, (eid, address) in enumerate(zip(eids, addresses, strict=True)):
        _bounce(session, rep, eid, address, n, clock)
    session.commit()
    rows = list(session.scalars(select(Bounce).order_by(Bounce.id)))
    assert [(b.address, b.source, b.sending_domain) for b in rows] == [
        (a, "dsn", "acme.test") for a in addresses]
    assert all(b.evaluated_at is None for b in rows)
    assert not _box(session, rep).guard_reason  # not evaluated yet
    session.rollback()  # the duty runs in its own transaction

    assert guard_breakers(runtime, clock()) == 3
    session.expire_all()
    assert "3 hard bounces in its last 3 emails" in _box(session, rep).guard_reason
    assert len(list(session.scalars(select(Event).where(
        Event.type == feed.BREAKER_TRIPPED)))) == 1
    session.rollback()
    assert guard_breakers(runtime, clock()) == 0  # each bounce is evaluated once


def test_a_delay_notice_is_not_a_bounce(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    (eid,) = launch(rep, campaign(rep, "Delay"), "bob@globex.test")
    mark_sent(session, eid, clock(), thread="t-a", message_id="<a1@acme.test>")
    msg = fixture("gmail_delay.eml", {"slow@umbrella.test": "bob@globex.test"})
    process_inbound(session, _box(session, rep), msg, provider_message_id="d1",
                    thread_id="t-a", now=clock())
    assert session.scalar(select(Bounce.id)) is None
