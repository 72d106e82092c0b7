"""DEV_MODE's simulated answers go through the real inbound path: a real message in the local
development mailbox, read by the poll, classified and acted on by the stop rules."""

from __future__ import annotations

import email
import email.policy

import pytest
from sqlalchemy import select

from addin_server.enums import EnrollmentStatus
from addin_server.inbound.classify import Kind, classify
from addin_server.inbound.simulate import CannotSimulate, simulate_inbound
from addin_server.models import Enrollment, InboundMessage, LocalMessage, Person, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle, email_step, launch, make_campaign


def sent_first_email(rep: Actor, rt: Runtime, clock: FrozenClock, **settings: bool
                     ) -> tuple[int, int]:
    """Bob in a two-email campaign whose first email the local mailbox really sent."""
    cid = make_campaign(rep, [email_step(1, send_time="09:00"),
                              email_step(3, send_option="same_time_as_previous",
                                         reply_to_previous=True, body_html="<p>Again</p>")],
                        **settings)
    (eid,) = launch(rep, cid, [{"email": "bob@globex.test", "first_name": "Bob"}])
    clock.advance(minutes=1)
    cycle(rt)
    with rt.sessions() as s:
        send = s.scalar(select(Send).where(Send.enrollment_id == eid, Send.position == 0))
        assert send is not None and send.state.value == "sent", send and send.state
        return eid, send.id


def status(rt: Runtime, eid: int) -> Enrollment:
    with rt.sessions() as s:
        e = s.get(Enrollment, eid)
        assert e is not None
        return e


def test_a_simulated_reply_is_a_real_message_and_stops_the_person(
        rep: Actor, runtime: Runtime, clock: FrozenClock) -> None:
    eid, send_id = sent_first_email(rep, runtime, clock)
    outcome = simulate_inbound(runtime, "reply", send_id)
    assert outcome.kind == "human" and outcome.enrollment_id == eid
    e = status(runtime, eid)
    assert e.status == EnrollmentStatus.REPLIED
    assert e.stop_reason == "replied (bob@globex.test)"
    with runtime.sessions() as s:
        row = s.scalar(select(LocalMessage).where(LocalMessage.inbound.is_(True)))
        assert row is not None
        parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
        ours = s.get(Send, send_id)
        assert ours is not None
        assert parsed["In-Reply-To"] == ours.rfc_message_id
        assert parsed["Subject"] == f"Re: {ours.subject}"
        assert classify(parsed).kind == Kind.HUMAN
        seen = s.scalar(select(InboundMessage).where(InboundMessage.enrollment_id == eid))
        assert seen is not None and seen.kind == "human"
        assert seen.subject == f"Re: {ours.subject}"
        assert "talk on Thursday" in seen.excerpt
        # The second email is never sent: the reply cancelled it.
        second = s.scalar(select(Send).where(Send.enrollment_id == eid, Send.position == 1))
        assert second is None or second.state.value == "cancelled"
    # Seen once: simulating polls again, and the first reply is not acted on twice.
    clock.advance(minutes=1)
    cycle(runtime)
    assert status(runtime, eid).status == EnrollmentStatus.REPLIED


def test_a_simulated_bounce_is_a_dsn_that_marks_the_person_bounced(
        rep: Actor, runtime: Runtime, clock: FrozenClock) -> None:
    eid, send_id = sent_first_email(rep, runtime, clock)
    outcome = simulate_inbound(runtime, "bounce", send_id)
    assert outcome.kind == "bounce", outcome
    assert status(runtime, eid).status == EnrollmentStatus.BOUNCED
    with runtime.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == "bob@globex.test"))
        assert person is not None and person.bounced_at is not None


def test_a_simulated_out_of_office_holds_the_person_until_the_date_it_names(
        rep: Actor, runtime: Runtime, clock: FrozenClock) -> None:
    eid, send_id = sent_first_email(rep, runtime, clock)
    outcome = simulate_inbound(runtime, "ooo", send_id)
    assert outcome.kind == "out_of_office", outcome
    e = status(runtime, eid)
    assert e.status == EnrollmentStatus.PAUSED
    assert e.paused_until is not None
    assert e.paused_until.date().isoformat() in ("2026-11-30", "2026-12-01")


def test_an_unsent_email_cannot_be_answered(rep: Actor, runtime: Runtime) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="23:00")])
    (eid,) = launch(rep, cid, [{"email": "bob@globex.test"}])
    with runtime.sessions() as s:
        send_id = s.scalar(select(Send.id).where(Send.enrollment_id == eid))
    assert send_id is not None
    with pytest.raises(CannotSimulate, match="has not been sent"):
        simulate_inbound(runtime, "reply", send_id)
    with pytest.raises(CannotSimulate, match="no send"):
        simulate_inbound(runtime, "reply", 999_999)
