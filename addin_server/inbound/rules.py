"""Stop rules: what an inbound message does to a campaign, recorded and applied at once.

`process_inbound` classifies a message (inbound.py), finds whose it is (reply_matching.py) and,
in the caller's transaction, records it in the Live Feed and applies the campaign's rules:
- a reply ends the enrollment (status replied; outcome success when the campaign says so),
  cancelling its pending send and open tasks, and with `stop_other_campaigns_on_reply` the
  person's other campaigns too;
- a bounce marks the person bounced and ends every live enrollment of theirs whose campaign
  removes on bounce (the address is dead everywhere), and suppresses the address;
- an out of office with a return date pauses the enrollment until that day (`resume_due`
  resumes it), without one it only shows in the feed;
- other automatic replies only show in the feed.
Each message is acted on once per mailbox (InboundMessage), however many times a poll, a push
or the pre-send check sees it. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from addin_server import dates, feed, tallies
from addin_server.campaigns.calendar import calendar_for
from addin_server.campaigns.settings import flag
from addin_server.campaigns.timing import CampaignCalendar, is_campaign_day, local_instant
from addin_server.crm import outbox as crm_outbox
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import LIVE_ENROLLMENT, PENDING_SEND, EnrollmentStatus, SendState
from addin_server.guard.breakers import record_bounce
from addin_server.guard.rules import Thresholds, hard_stop, is_temporary
from addin_server.guard.stops import apply_hard_stop
from addin_server.inbound.classify import Classification, Kind, classify
from addin_server.inbound.holds import hold_until, is_colleague, stop_company
from addin_server.inbound.matching import (
    Candidate,
    InboundFacts,
    Match,
    facts_of,
    is_own,
    match_bounce,
    match_reply,
)
from addin_server.inbound.quarantine import hold, in_burst, provider_of
from addin_server.inbound.unsubscribe import unsubscribe_by_email
from addin_server.models import (
    Campaign,
    Enrollment,
    Event,
    InboundMessage,
    Mailbox,
    Person,
    PersonAddress,
    Rep,
    Send,
    SentMessage,
)
from addin_server.suppressions import suppress


@dataclass(frozen=True)
class InboundOutcome:
    kind: str  # inbound.Kind value, or "duplicate" / "own"
    enrollment_id: int | None
    action: str  # what was done, in words


def own_addresses(session: Session, rep_id: int) -> set[str]:
    rep = session.get(Rep, rep_id)
    boxes = session.scalars(select(Mailbox.address).where(Mailbox.rep_id == rep_id))
    return {a.lower() for a in boxes} | ({rep.email.lower()} if rep else set())


def candidates(
    session: Session, rep_id: int, facts: InboundFacts, result: Classification
) -> list[Candidate]:
    """The rep's enrollments this message may be about, with what identifies our emails."""
    # One query with every way a message can name our email (address, alias, thread,
    # Message-ID, send id), so that matching (pure, inbound/matching.py) sees all candidates.
    rep = session.get(Rep, rep_id)
    assert rep is not None
    emails = {facts.from_addr, *result.failed_recipients} - {""}
    aliased = select(PersonAddress.person_id).where(PersonAddress.org_id == rep.org_id,
                                                    PersonAddress.email.in_(emails))
    ids = [*facts.linked_ids, *([result.original_message_id] if result.original_message_id
                                 else [])]
    conds: list[ColumnElement[bool]] = [Person.email.in_(emails), Person.id.in_(aliased)]
    if facts.thread_id:
        conds.append(SentMessage.thread_id == facts.thread_id)
    if ids:
        conds.append(SentMessage.rfc_message_id.in_(ids))
    if result.original_send_id and result.original_send_id.isdigit():
        conds.append(Enrollment.id == select(Send.enrollment_id).where(
            Send.id == int(result.original_send_id)).scalar_subquery())
    rows = session.execute(
        select(SentMessage, Enrollment.id, Person, Campaign.extra_settings)
        .join(Enrollment, Enrollment.id == SentMessage.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Enrollment.rep_id == rep_id, or_(*conds))
    ).all()
    if not rows:
        return []
    eids = {eid for _, eid, _, _ in rows}
    send_ids: dict[int, set[str]] = {}
    for sid, eid in session.execute(select(Send.id, Send.enrollment_id).where(
            Send.enrollment_id.in_(eids), Send.state != SendState.CANCELLED)):
        send_ids.setdefault(eid, set()).add(str(sid))
    aliases: dict[int, set[str]] = {}
    for pid, email in session.execute(select(PersonAddress.person_id, PersonAddress.email).where(
            PersonAddress.person_id.in_({p.id for _, _, p, _ in rows}))):
        aliases.setdefault(pid, set()).add(email)
    grouped: dict[int, list[tuple[SentMessage, Person, dict[str, Any]]]] = {}
    for sent, eid, person, extra in rows:
        grouped.setdefault(eid, []).append((sent, person, extra))
    out = []
    for eid, items in grouped.items():
        person, extra = items[0][1], items[0][2]
        out.append(Candidate(
            enrollment_id=eid, person_id=person.id, person_email=person.email,
            aliases=frozenset(aliases.get(person.id, ())),
            thread_ids=frozenset(s.thread_id for s, _, _ in items if s.thread_id),
            message_ids=frozenset(s.rfc_message_id for s, _, _ in items if s.rfc_message_id),
            send_ids=frozenset(send_ids.get(eid, ())),
            last_sent_at=max(s.sent_at for s, _, _ in items),
            same_domain_counts=flag(extra, "reply_from_same_domain"),
        ))
    return out


def _claim_message(session: Session, mailbox: Mailbox, facts: InboundFacts, now: datetime
                   ) -> InboundMessage | None:
    """The row that says this message was handled; None when it already was."""
    known = session.scalar(select(InboundMessage).where(
        InboundMessage.mailbox_id == mailbox.id,
        InboundMessage.provider_message_id == facts.provider_message_id))
    if known is not None:
        return None
    rep = session.get(Rep, mailbox.rep_id)
    assert rep is not None
    row = InboundMessage(
        org_id=rep.org_id,
        mailbox_id=mailbox.id, provider_message_id=facts.provider_message_id,
        thread_id=facts.thread_id, rfc_message_id=facts.rfc_message_id,
        from_addr=facts.from_addr, subject=facts.subject, excerpt=facts.excerpt,
        kind="pending", received_at=facts.received_at,
        processed_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent poll or push took it first
        return None
    return row


def process_inbound(
    session: Session,
    mailbox: Mailbox,
    msg: Message,
    *,
    provider_message_id: str,
    thread_id: str | None,
    now: datetime,
    received_at: datetime | None = None,
    secret_key: str | None = None,
    guard: Thresholds | None = None,
) -> InboundOutcome:
    """Classify, match and apply one inbound message of `mailbox` (see the module docstring).

    With `secret_key`, a message whose subject is `unsubscribe <token>` (the mailto of our
    List-Unsubscribe header) unsubscribes the token's address."""
    facts = facts_of(msg, provider_message_id=provider_message_id, thread_id=thread_id,
                     received_at=received_at)
    own = own_addresses(session, mailbox.rep_id)
    if is_own(facts, own):
        return InboundOutcome("own", None, "our own message")
    row = _claim_message(session, mailbox, facts, now)
    if row is None:
        return InboundOutcome("duplicate", None, "already handled")
    if secret_key is not None and unsubscribe_by_email(session, msg, secret_key, now):
        row.kind = "unsubscribe"
        return InboundOutcome("unsubscribe", None, "unsubscribed by email")
    result = classify(msg)
    if result.kind == Kind.BOUNCE:
        # About the sender, not the person: a provider hard stop, or a temporary failure.
        stop = hard_stop(result.status, result.diagnostic)
        if stop is not None or is_temporary(result.status):
            row.kind = "hard_stop" if stop else "temporary"
            action = (apply_hard_stop(session, mailbox, stop, now, detail=result.diagnostic)
                      if stop else "a temporary failure: the provider retries; not a bounce")
            row.note = f"{result.why}; {result.status} {result.diagnostic}"[:2000] + f"; {action}"
            return InboundOutcome(row.kind, None, action)
    cands = candidates(session, mailbox.rep_id, facts, result)
    match: Match = (match_bounce(facts, result, cands) if result.kind == Kind.BOUNCE
                    else match_reply(facts, cands, own))
    row.kind = result.kind.value
    if match.enrollment_id is None:
        row.note = f"{result.why}; {match.how}"
        return InboundOutcome(result.kind.value, None, f"ignored: {match.how}")
    enrollment = session.get(Enrollment, match.enrollment_id)
    assert enrollment is not None
    row.enrollment_id, row.person_id = enrollment.id, enrollment.person_id
    how = match.how
    if result.kind == Kind.HUMAN:
        action = apply_reply(session, enrollment, facts=facts, how=how, now=now)
    elif result.kind == Kind.BOUNCE:
        action = apply_bounce(session, enrollment, result, facts=facts, how=how, now=now,
                              guard=guard)
    elif result.kind == Kind.OUT_OF_OFFICE:
        action = apply_out_of_office(session, enrollment, result, facts=facts, how=how, now=now)
    else:
        action = _auto_reply(session, enrollment, result, facts=facts, how=how, now=now)
    row.note = f"{result.why}; {match.how}; {action}"
    return InboundOutcome(result.kind.value, enrollment.id, action)


def _event(session: Session, enrollment: Enrollment, type_: str, now: datetime,
           facts: InboundFacts, **data: Any) -> Event:
    # `from`, `subject` and `excerpt` are what the Salesforce sync logs for a reply.
    data["from"] = facts.from_addr
    return feed.record(session, org_id=enrollment.org_id, type=type_, at=now,
                       rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
                       enrollment_id=enrollment.id, person_id=enrollment.person_id,
                       sender=facts.from_addr, subject=facts.subject, excerpt=facts.excerpt,
                       **data)


def apply_reply(session: Session, enrollment: Enrollment, *, facts: InboundFacts, how: str,
                now: datetime) -> str:
    """The person replied: feed event, stop (and success) by the campaign's settings."""
    campaign = enrollment.campaign
    event = _event(session, enrollment, feed.REPLIED, now, facts, how=how)
    tallies.count_reply(session, enrollment, now, thread_id=facts.thread_id,
                        message_ids=facts.linked_ids, received_at=facts.received_at)
    session.flush()
    crm_outbox.note_reply(session, event)  # logged on the Contact or Lead when connected
    if campaign.mark_success_on_reply and not enrollment.outcome:
        enrollment.outcome = "success"
    if not campaign.stop_on_reply:
        return "recorded (the campaign does not stop on reply)"
    cancelled = enrollments.end(session, enrollment, now, status=EnrollmentStatus.REPLIED,
                                reason=f"replied ({facts.from_addr})")
    action = f"stopped, {cancelled} pending cancelled"
    person = session.get(Person, enrollment.person_id)
    if (person is not None and flag(campaign.extra_settings, "stop_company_on_colleague_reply")
            and is_colleague(session, person, facts.from_addr)):
        domain = facts.from_addr.rsplit("@", 1)[-1].lower()
        n = stop_company(session, enrollment.org_id, domain,
                         f"a colleague ({facts.from_addr}) replied in campaign {campaign.name!r}",
                         now, keep=enrollment.id)
        action += f"; {n} other enrollment(s) at {domain} stopped"
    if flag(campaign.extra_settings, "stop_other_campaigns_on_reply"):
        others = _live_elsewhere(session, enrollment)
        for other in others:
            enrollments.end(session, other, now, status=EnrollmentStatus.STOPPED,
                            reason=f"replied in campaign {campaign.name!r}")
        action += f"; {len(others)} other campaign(s) stopped"
    return action


def _live_elsewhere(session: Session, enrollment: Enrollment) -> list[Enrollment]:
    return list(session.scalars(select(Enrollment).where(
        Enrollment.org_id == enrollment.org_id, Enrollment.person_id == enrollment.person_id,
        Enrollment.id != enrollment.id, Enrollment.status.in_(LIVE_ENROLLMENT))))


def apply_bounce(session: Session, enrollment: Enrollment, result: Classification, *,
                 facts: InboundFacts, how: str, now: datetime,
                 guard: Thresholds | None = None) -> str:
    """The address is dead: mark the person, suppress the address (with the DSN's code and
    text), and end their live enrollments in every campaign that removes on bounce. One of a
    burst from one provider is held for review instead (inbound/quarantine.py)."""
    person = session.get(Person, enrollment.person_id)
    assert person is not None
    last = session.scalar(select(SentMessage.mailbox_id).where(
        SentMessage.enrollment_id == enrollment.id).order_by(SentMessage.sent_at.desc()).limit(1))
    provider = provider_of(facts.from_addr)
    if in_burst(session, guard or Thresholds(), enrollment.org_id, provider, now):
        record_bounce(session, org_id=enrollment.org_id, mailbox_id=last, enrollment=enrollment,
                      address=person.email, source="dsn", now=now, code=result.status,
                      text=result.diagnostic or result.why, provider=provider, held=True)
        held = hold(session, [enrollment, *_live_elsewhere(session, enrollment)], provider, now)
        _event(session, enrollment, feed.BOUNCE_HELD, now, facts, how=how,
               address=person.email, provider=provider, code=result.status)
        return f"held for review: a burst of bounces from {provider}; {held} enrollment(s) paused"
    if person.bounced_at is None:
        person.bounced_at = now
    _event(session, enrollment, feed.BOUNCED, now, facts, how=how, address=person.email,
           failed_recipients=list(result.failed_recipients))
    suppress(session, enrollment.org_id, person.email, "bounced", now,
             note=f"{result.status} {result.diagnostic}".strip()[:1000])
    # Counted by the bounce breakers (the dispatcher's duty evaluates it): against the mailbox
    # that sent this person our last email.
    record_bounce(session, org_id=enrollment.org_id, mailbox_id=last, enrollment=enrollment,
                  address=person.email, source="dsn", now=now, code=result.status,
                  text=result.diagnostic or result.why, provider=provider)
    send_id = result.original_send_id
    position = (session.scalar(select(Send.position).where(
        Send.id == int(send_id), Send.enrollment_id == enrollment.id))
        if send_id and send_id.isdigit() else None)
    tallies.count_bounce(session, enrollment, now, send_position=position, message_ids=tuple(
        [result.original_message_id] if result.original_message_id else []))
    ended = 0
    for e in [enrollment, *_live_elsewhere(session, enrollment)]:
        if e.status in LIVE_ENROLLMENT and e.campaign.remove_on_bounce:
            enrollments.end(session, e, now, status=EnrollmentStatus.BOUNCED,
                            reason=f"email to {person.email} bounced")
            ended += 1
    return f"person marked bounced; {ended} enrollment(s) removed"


def _zone(session: Session, enrollment: Enrollment) -> ZoneInfo:
    person = session.get(Person, enrollment.person_id)
    return calendar_for(enrollment.campaign, person.timezone if person else None).tz


def apply_out_of_office(session: Session, enrollment: Enrollment, result: Classification, *,
                        facts: InboundFacts, how: str, now: datetime) -> str:
    """Pause until the return date when one was read; otherwise only tell the rep."""
    back = result.return_date
    _event(session, enrollment, feed.OUT_OF_OFFICE, now, facts, how=how,
           return_date=back.isoformat() if back else None)
    if back is None:
        return "no return date: the campaign goes on"
    tz = _zone(session, enrollment)
    until = local_instant(back, time(0, 0), tz)
    if until <= now:
        return "already back: the campaign goes on"
    # The person is away from every campaign, not only this one (inbound/holds.py).
    held = hold_until(session, [enrollment, *_live_elsewhere(session, enrollment)], until, now)
    if not held:
        return f"left {enrollment.status.value}"
    return f"held until {dates.day(back)} in {held} campaign(s)"  # the rep reads it


def _auto_reply(session: Session, enrollment: Enrollment, result: Classification, *,
                facts: InboundFacts, how: str, now: datetime) -> str:
    _event(session, enrollment, feed.AUTO_REPLY, now, facts, how=how, why=result.why)
    return "automatic reply: the campaign goes on"


def resume_due(session: Session, now: datetime, limit: int = 500) -> int:
    """Resume enrollments whose out-of-office pause has run out (a periodic duty:
    workers/duties.py). A pending send that fell due meanwhile goes at its usual time of day
    on the first campaign day from now, not in the middle of the night."""
    due = list(session.scalars(select(Enrollment).where(
        Enrollment.status == EnrollmentStatus.PAUSED, Enrollment.paused_until.is_not(None),
        Enrollment.paused_until <= now).order_by(Enrollment.paused_until).limit(limit)))
    for enrollment in due:
        enrollments.resume(session, enrollment, now)
        person = session.get(Person, enrollment.person_id)
        cal = calendar_for(enrollment.campaign, person.timezone if person else None)
        for send in session.scalars(select(Send).where(
                Send.enrollment_id == enrollment.id, Send.state.in_(PENDING_SEND))):
            if send.due_at < now:
                send.due_at = _same_time_from(send.planned_at or send.due_at, now, cal)
                send.reason = ""
                send.updated_at = now
    return len(due)


def _same_time_from(planned: datetime, now: datetime, cal: CampaignCalendar) -> datetime:
    wall = planned.astimezone(cal.tz).time()
    d: date = now.astimezone(cal.tz).date()
    for _ in range(400):
        at = local_instant(d, wall, cal.tz)
        if at >= now and is_campaign_day(d, cal):
            return at
        d += timedelta(days=1)
    return now
