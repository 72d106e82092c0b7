"""Stop rules against a real database: replies, bounces, out of office, recorded once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.enums import EnrollmentStatus, SendState, TaskStatus
from addin_server.inbound.rules import process_inbound, resume_due
from addin_server.models import (
    Enrollment,
    Event,
    InboundMessage,
    Mailbox,
    Person,
    PersonAddress,
    Send,
    Suppression,
    Task,
)
from tests.conftest import Actor, FrozenClock
from tests.support.replies import campaign, fixture, launch, mark_sent, reply


def box(session: Session, actor: Actor) -> Mailbox:
    found = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert found is not None
    return found


def status(session: Session, eid: int) -> EnrollmentStatus:
    e = session.get(Enrollment, eid)
    assert e is not None
    session.refresh(e)
    return e.status


def pending(session: Session, eid: int) -> list[str]:
    sends = session.scalars(select(Send.state).where(Send.enrollment_id == eid))
    tasks = session.scalars(select(Task.status).where(Task.enrollment_id == eid))
    return sorted([s.value for s in sends] + [t.value for t in tasks])


def events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def two_campaigns(rep: Actor, session: Session, clock: FrozenClock, **settings: bool
                  ) -> tuple[int, int]:
    """Bob in campaigns A and B, the first email of each sent in its own thread."""
    a = launch(rep, campaign(rep, "A", mark_success_on_reply=True, **settings),
               "bob@globex.test")[0]
    b = launch(rep, campaign(rep, "B"), "bob@globex.test")[0]
    mark_sent(session, a, clock(), thread="thread-a", message_id="<a1@acme.test>")
    mark_sent(session, b, clock(), thread="thread-b", message_id="<b1@acme.test>")
    return a, b


def test_a_reply_in_a_thread_stops_that_campaign_only(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, b = two_campaigns(rep, session, clock)
    msg = reply("Bob <Bob@Globex.test>", rep.email, in_reply_to="<a1@acme.test>")
    out = process_inbound(session, box(session, rep), msg, provider_message_id="m1",
                          thread_id="thread-a", now=clock())
    assert (out.kind, out.enrollment_id) == ("human", a)
    assert status(session, a) == EnrollmentStatus.REPLIED
    assert session.get(Enrollment, a).outcome == "success"  # type: ignore[union-attr]
    assert pending(session, a) == ["cancelled", "sent"]
    assert status(session, b) == EnrollmentStatus.ACTIVE
    assert pending(session, b) == ["scheduled", "sent"]
    [event] = events(session, feed.REPLIED)
    assert (event.enrollment_id, event.data["sender"]) == (a, "bob@globex.test")
    assert "names our Message-ID" in event.data["how"]


def test_the_same_message_seen_twice_is_acted_on_once(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    _a, _ = two_campaigns(rep, session, clock)
    msg = reply("bob@globex.test", rep.email, in_reply_to="<a1@acme.test>")
    mailbox = box(session, rep)
    first = process_inbound(session, mailbox, msg, provider_message_id="m1", thread_id="thread-a",
                            now=clock())
    second = process_inbound(session, mailbox, msg, provider_message_id="m1",
                             thread_id="thread-a", now=clock())
    assert (first.kind, second.kind) == ("human", "duplicate")
    assert len(events(session, feed.REPLIED)) == 1
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_our_own_follow_up_in_the_thread_never_counts(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, _ = two_campaigns(rep, session, clock)
    # Our follow-up, copied into the thread (Gmail shows it in the thread; Warmbly #549).
    own = reply(f"Ann <{rep.email}>", "bob@globex.test", in_reply_to="<a1@acme.test>",
                X_Campaign_Send_Id="99")
    out = process_inbound(session, box(session, rep), own, provider_message_id="m2",
                          thread_id="thread-a", now=clock())
    assert out.kind == "own"
    # Even without our header: from the rep's address.
    bare = reply(rep.email, "bob@globex.test", in_reply_to="<a1@acme.test>")
    assert process_inbound(session, box(session, rep), bare, provider_message_id="m3",
                           thread_id="thread-a", now=clock()).kind == "own"
    assert status(session, a) == EnrollmentStatus.ACTIVE
    assert events(session, feed.REPLIED) == []


def test_reply_from_another_address_of_the_person(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, _ = two_campaigns(rep, session, clock)
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None
    # A colleague in the thread is not Bob...
    colleague = reply("carol@globex.test", rep.email, in_reply_to="<a1@acme.test>")
    out = process_inbound(session, box(session, rep), colleague, provider_message_id="c1",
                          thread_id="thread-a", now=clock())
    assert (out.enrollment_id, out.action) == (None, "ignored: someone else wrote in our thread")
    # ... but Bob's private address, once known, is.
    session.add(PersonAddress(org_id=person.org_id, person_id=person.id,
                              email="bob.jones@gmail.com", created_at=clock()))
    private = reply("bob.jones@gmail.com", rep.email, in_reply_to="<a1@acme.test>")
    out = process_inbound(session, box(session, rep), private, provider_message_id="c2",
                          thread_id="thread-a", now=clock())
    assert out.enrollment_id == a
    assert status(session, a) == EnrollmentStatus.REPLIED


def test_reply_from_the_company_domain_when_the_campaign_allows_it(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, _b = two_campaigns(rep, session, clock, reply_from_same_domain=True)
    colleague = reply("carol@globex.test", rep.email)
    # Not linked to our emails: a colleague writing out of the blue is not a reply.
    out = process_inbound(session, box(session, rep), colleague, provider_message_id="c0",
                          thread_id="other", now=clock())
    assert out.enrollment_id is None
    linked = reply("carol@globex.test", rep.email, in_reply_to="<b1@acme.test>")
    out = process_inbound(session, box(session, rep), linked, provider_message_id="c1",
                          thread_id="thread-b", now=clock())
    assert out.enrollment_id is None  # campaign B does not allow it
    linked_a = reply("carol@globex.test", rep.email, in_reply_to="<a1@acme.test>",
                     body="Bob forwarded me this.")
    out = process_inbound(session, box(session, rep), linked_a, provider_message_id="c2",
                          thread_id="thread-a", now=clock())
    assert out.enrollment_id == a
    assert status(session, a) == EnrollmentStatus.REPLIED
    assert events(session, feed.REPLIED)[-1].data["how"] == (
        "names our Message-ID, from the person's company domain")


def test_reply_with_rewritten_headers_still_counts_by_sender(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, b = two_campaigns(rep, session, clock)
    clock.advance(minutes=5)
    mark_sent(session, launch(rep, campaign(rep, "C"), "bob@globex.test")[0], clock(),
              thread="thread-c", message_id="<c1@acme.test>")
    # No In-Reply-To, no References, a thread of its own (a gateway rewrote them).
    msg = reply("bob@globex.test", rep.email, subject="your email")
    out = process_inbound(session, box(session, rep), msg, provider_message_id="x1",
                          thread_id="new-thread", now=clock())
    c = out.enrollment_id
    assert c not in (a, b) and c is not None  # the most recently emailed campaign
    assert status(session, c) == EnrollmentStatus.REPLIED
    assert events(session, feed.REPLIED)[-1].data["how"] == (
        "from the person (no thread or header link)")
    assert status(session, a) == EnrollmentStatus.ACTIVE


def test_stop_other_campaigns_on_reply(rep: Actor, session: Session, clock: FrozenClock) -> None:
    a, b = two_campaigns(rep, session, clock, stop_other_campaigns_on_reply=True)
    msg = reply("bob@globex.test", rep.email, in_reply_to="<a1@acme.test>")
    process_inbound(session, box(session, rep), msg, provider_message_id="m1",
                    thread_id="thread-a", now=clock())
    assert status(session, a) == EnrollmentStatus.REPLIED
    assert status(session, b) == EnrollmentStatus.STOPPED
    assert pending(session, b) == ["cancelled", "sent"]


def test_no_stop_when_the_campaign_does_not_stop_on_reply(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    eid = launch(rep, campaign(rep, "Keep going", stop_on_reply=False), "bob@globex.test")[0]
    mark_sent(session, eid, clock(), thread="t", message_id="<k1@acme.test>")
    msg = reply("bob@globex.test", rep.email, in_reply_to="<k1@acme.test>")
    out = process_inbound(session, box(session, rep), msg, provider_message_id="m1",
                          thread_id="t", now=clock())
    assert out.action == "recorded (the campaign does not stop on reply)"
    assert status(session, eid) == EnrollmentStatus.ACTIVE
    assert len(events(session, feed.REPLIED)) == 1


def test_a_bounce_removes_the_person_everywhere(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, b = two_campaigns(rep, session, clock)
    send_a = session.scalar(select(Send).where(Send.enrollment_id == a, Send.position == 0))
    assert send_a is not None
    msg = fixture("gmail_bounce.eml", {"nobody@globex.test": "bob@globex.test",
                                       "<campaign-41.1@acme.test>": "<a1@acme.test>",
                                       "X-Campaign-Send-Id: 41": f"X-Campaign-Send-Id: "
                                                                 f"{send_a.id}"})
    out = process_inbound(session, box(session, rep), msg, provider_message_id="b1",
                          thread_id="thread-a", now=clock())
    assert (out.kind, out.enrollment_id) == ("bounce", a)
    assert status(session, a) == EnrollmentStatus.BOUNCED
    assert status(session, b) == EnrollmentStatus.BOUNCED
    assert pending(session, a) == ["cancelled", "sent"]
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None and person.bounced_at == clock()
    assert session.scalar(select(Suppression.reason).where(
        Suppression.email == "bob@globex.test")) == "bounced"
    [event] = events(session, feed.BOUNCED)
    assert event.data["how"] == ("the returned message carries our send id; "
                                 "failed recipient confirmed")
    session.commit()
    again = rep.post(f"/api/v1/campaigns/{campaign(rep, 'Later')}/launch",
                     json={"people": [{"email": "bob@globex.test"}]})
    assert again.json["skipped"] == [{"email": "bob@globex.test", "reason": "bounced"}]


def test_an_exchange_ndr_matches_by_returned_message_id(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    _a, b = two_campaigns(rep, session, clock)
    ndr = fixture("exchange_ndr.eml", {
        "gone.person@fabrikam.test": "bob@globex.test",
        "<AM0PR01MB9999A1B2C3D4E5F6@AM0PR01MB9999.eurprd01.prod.exchangelabs.com>":
            "<b1@acme.test>",
        "X-Campaign-Send-Id: 77": "X-Other: 1"})
    out = process_inbound(session, box(session, rep), ndr, provider_message_id="b2",
                          thread_id="conv-ndr", now=clock())
    assert (out.kind, out.enrollment_id) == ("bounce", b)


def test_a_delay_notice_changes_nothing(rep: Actor, session: Session, clock: FrozenClock) -> None:
    a, _ = two_campaigns(rep, session, clock)
    msg = fixture("gmail_delay.eml", {"slow@umbrella.test": "bob@globex.test"})
    process_inbound(session, box(session, rep), msg, provider_message_id="d1",
                    thread_id="thread-a", now=clock())
    assert status(session, a) == EnrollmentStatus.ACTIVE
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None and person.bounced_at is None


def test_out_of_office_holds_the_person_in_every_campaign_until_the_return_date(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, b = two_campaigns(rep, session, clock)  # Tue 24 Nov 2026 08:00 UTC; Paris campaigns
    msg = fixture("exchange_ooo_en.eml", {"<campaign-42.1@acme.test>": "<a1@acme.test>"})
    out = process_inbound(session, box(session, rep), msg, provider_message_id="o1",
                          thread_id="thread-a", now=clock())
    assert (out.kind, out.action) == ("out_of_office",
                                      "held until Wed, 2 Dec 2026 in 2 campaign(s)")
    enrollment = session.get(Enrollment, a)
    assert enrollment is not None
    assert enrollment.status == EnrollmentStatus.PAUSED
    # Midnight in Paris on 2 December.
    assert enrollment.paused_until == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    # Away from every campaign, not only the one whose email was answered.
    assert status(session, b) == EnrollmentStatus.PAUSED
    other = session.get(Enrollment, b)
    assert other is not None and other.paused_until == enrollment.paused_until
    [event] = events(session, feed.OUT_OF_OFFICE)
    assert event.data["return_date"] == "2026-12-02"
    # The follow-up (day 3, same time as the first: 09:30 Paris) fell due while away.
    clock.set(datetime(2026, 12, 1, 22, 59, tzinfo=UTC))
    assert resume_due(session, clock()) == 0
    clock.set(datetime(2026, 12, 2, 0, 5, tzinfo=UTC))
    assert resume_due(session, clock()) == 2
    assert status(session, a) == EnrollmentStatus.ACTIVE
    assert status(session, b) == EnrollmentStatus.ACTIVE
    send = session.scalar(select(Send).where(Send.enrollment_id == a, Send.position == 1))
    assert send is not None and send.state == SendState.SCHEDULED
    assert send.due_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)  # 09:30 Paris that day
    assert [e.type for e in events(session, feed.ENROLLMENT_RESUMED)] == ["enrollment_resumed"] * 2


def test_out_of_office_without_a_date_and_other_auto_replies_leave_it_running(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    a, _ = two_campaigns(rep, session, clock)
    for i, name in enumerate(["ooo_no_date.eml", "ticket_autoreply.eml"]):
        msg = fixture(name, {"<campaign-45.1@acme.test>": "<a1@acme.test>",
                             "<campaign-42.1@acme.test>": "<a1@acme.test>",
                             "dana@umbrella.test": "bob@globex.test",
                             "support@globex.test": "bob@globex.test"})
        process_inbound(session, box(session, rep), msg, provider_message_id=f"x{i}",
                        thread_id="thread-a", now=clock())
    assert status(session, a) == EnrollmentStatus.ACTIVE
    assert [e.type for e in events(session, feed.OUT_OF_OFFICE)] == ["out_of_office"]
    assert [e.type for e in events(session, feed.AUTO_REPLY)] == ["auto_reply"]


def test_a_reply_cancels_open_tasks_too(rep: Actor, session: Session, clock: FrozenClock) -> None:
    eid = launch(rep, campaign(rep, "Tasks"), "bob@globex.test")[0]
    mark_sent(session, eid, clock(), thread="t", message_id="<t1@acme.test>")
    mark_sent(session, eid, clock(), thread="t", message_id="<t2@acme.test>")  # now a call task
    assert session.scalar(select(Task.status).where(Task.enrollment_id == eid)) == TaskStatus.OPEN
    process_inbound(session, box(session, rep), reply("bob@globex.test", rep.email,
                                                      in_reply_to="<t2@acme.test>"),
                    provider_message_id="m", thread_id="t", now=clock())
    assert session.scalar(select(Task.status).where(Task.enrollment_id == eid)) == (
        TaskStatus.CANCELLED)


def test_a_colleagues_reply_stops_the_companys_enrollments_when_the_campaign_says_so(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = campaign(rep, "Globex", reply_from_same_domain=True,
                   stop_company_on_colleague_reply=True)
    a, = launch(rep, cid, "bob@globex.test")
    c, = launch(rep, campaign(rep, "Other"), "carol@globex.test")
    elsewhere, = launch(rep, campaign(rep, "Initech"), "peter@initech.test")
    mark_sent(session, a, clock(), thread="thread-a", message_id="<a1@acme.test>")
    linked = reply("dave@globex.test", rep.email, in_reply_to="<a1@acme.test>",
                   body="I handle this for Bob; not interested.")
    out = process_inbound(session, box(session, rep), linked, provider_message_id="c1",
                          thread_id="thread-a", now=clock())
    assert out.enrollment_id == a
    assert out.action.endswith("1 other enrollment(s) at globex.test stopped")
    assert status(session, a) == EnrollmentStatus.REPLIED
    assert status(session, c) == EnrollmentStatus.STOPPED
    assert status(session, elsewhere) == EnrollmentStatus.ACTIVE
    session.commit()
    # Carol's page says in one line why she was stopped.
    steps = rep.get(f"/api/v1/enrollments/{c}").json["steps"]
    assert steps[0]["reason"] == "a colleague (dave@globex.test) replied in campaign 'Globex'"


def test_the_persons_own_reply_does_not_stop_the_company(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = campaign(rep, "Globex", stop_company_on_colleague_reply=True)
    a, = launch(rep, cid, "bob@globex.test")
    c, = launch(rep, campaign(rep, "Other"), "carol@globex.test")
    mark_sent(session, a, clock(), thread="thread-a", message_id="<a1@acme.test>")
    process_inbound(session, box(session, rep), reply("bob@globex.test", rep.email,
                                                      in_reply_to="<a1@acme.test>"),
                    provider_message_id="r1", thread_id="thread-a", now=clock())
    assert status(session, a) == EnrollmentStatus.REPLIED
    assert status(session, c) == EnrollmentStatus.ACTIVE
