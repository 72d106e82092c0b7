"""One person, as their page shows them: every campaign they are or were in, the thread as they
see it (our emails and what came back: replies, bounces, out-of-office and other automatic
replies, in order), and one line saying why they were stopped or held. Read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.enums import EnrollmentStatus
from addin_server.html_text import html_to_text
from addin_server.models import Campaign, Enrollment, InboundMessage, Person, Send, SentMessage

# What of the inbound messages the thread shows: what the person (or their server) sent back.
THREAD_KINDS = ("human", "bounce", "out_of_office", "auto_reply")
_COLLEAGUE = re.compile(r"^a colleague \((?P<addr>[^)]+)\) replied")


@dataclass(frozen=True)
class ThreadItem:
    at: datetime
    direction: str  # "out" (our email) or "in" (what came back)
    kind: str  # "sent", or an inbound kind (human, bounce, out_of_office, auto_reply)
    subject: str
    text: str
    from_addr: str
    to_addr: str
    campaign_id: int | None
    campaign_name: str
    send_id: int | None = None


@dataclass(frozen=True)
class EnrollmentFacts:
    """What the one-line standing needs of an enrollment (pure data, no session)."""

    campaign_name: str
    status: EnrollmentStatus
    stop_reason: str
    paused_until: datetime | None
    updated_at: datetime
    replied_at: datetime | None


@dataclass(frozen=True)
class Standing:
    state: str  # "stopped", "held", "active" or "none"
    text: str


def _day(instant: datetime, tz: ZoneInfo) -> str:
    """`Wed, 3 Mar 2027` in the person's campaign zone: the one date style (dates.py)."""
    return dates.day(dates.aware(instant).astimezone(tz).date())


def _ended(e: EnrollmentFacts, person: Person, tz: ZoneInfo) -> str:
    where = f"in campaign {e.campaign_name!r}"
    on = _day(e.replied_at or e.updated_at, tz) if e.status == EnrollmentStatus.REPLIED \
        else _day(e.updated_at, tz)
    colleague = _COLLEAGUE.match(e.stop_reason)
    if colleague:
        addr = colleague["addr"]
        company = person.company or addr.rpartition("@")[2]
        return f"Stopped: a colleague at {company} replied ({addr}) on {on}"
    if e.status == EnrollmentStatus.REPLIED:
        return f"Stopped: replied on {on} ({where})"
    if e.status == EnrollmentStatus.FINISHED:
        return f"Finished every step of campaign {e.campaign_name!r} on {on}"
    if e.stop_reason == "stopped by the rep":
        return f"Stopped by hand on {on} ({where})"
    reason = e.stop_reason or e.status.value
    return f"Stopped: {reason} on {on} ({where})"


def standing(person: Person, enrollments: list[EnrollmentFacts], tz: ZoneInfo,
             out_of_office_in: str | None = None) -> Standing:
    """Why the person is stopped or held, in one line (issue 18 point 6): the strongest reason
    first: unsubscribed, bounced, held (out of office, review, by hand), else the latest end.
    `out_of_office_in` names the campaign whose email drew the out-of-office reply."""
    if person.unsubscribed_at is not None:
        return Standing("stopped", f"Stopped: unsubscribed on {_day(person.unsubscribed_at, tz)}")
    if person.bounced_at is not None:
        return Standing("stopped", f"Stopped: email to {person.email} bounced on "
                                   f"{_day(person.bounced_at, tz)}")
    paused = [e for e in enrollments if e.status == EnrollmentStatus.PAUSED]
    away = [e for e in paused if e.paused_until is not None]
    if away:
        until = max(e.paused_until for e in away if e.paused_until is not None)
        seen = out_of_office_in or away[0].campaign_name
        return Standing("held", f"Held: out of office until {_day(until, tz)} "
                                f"(seen in campaign {seen!r})")
    for e in paused:
        if e.stop_reason:  # held for review with a burst of bounces (inbound/quarantine.py)
            why = (e.stop_reason[0].upper() + e.stop_reason[1:]
                   if e.stop_reason.startswith("held") else f"Held: {e.stop_reason}")
            return Standing("held", f"{why} (campaign {e.campaign_name!r})")
    if paused:
        names = ", ".join(repr(e.campaign_name) for e in paused)
        return Standing("held", f"Held: paused by hand in campaign {names}")
    active = [e for e in enrollments if e.status == EnrollmentStatus.ACTIVE]
    if active:
        names = ", ".join(repr(e.campaign_name) for e in active)
        return Standing("active", f"Active in campaign {names}")
    if not enrollments:
        return Standing("none", "Not in any campaign")
    latest = max(enrollments, key=lambda e: e.updated_at)
    return Standing("stopped", _ended(latest, person, tz))


def enrollments_of(session: Session, person: Person) -> list[Enrollment]:
    """Every campaign the person is or was in, newest first."""
    return list(session.scalars(select(Enrollment).where(
        Enrollment.person_id == person.id, Enrollment.org_id == person.org_id)
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())))


def facts(enrollment: Enrollment) -> EnrollmentFacts:
    return EnrollmentFacts(
        campaign_name=enrollment.campaign.name, status=enrollment.status,
        stop_reason=enrollment.stop_reason, paused_until=enrollment.paused_until,
        updated_at=enrollment.updated_at, replied_at=enrollment.replied_at)


def out_of_office_campaign(session: Session, person: Person) -> str | None:
    """The campaign whose email drew the person's latest out-of-office reply."""
    return session.scalar(
        select(Campaign.name).join(Enrollment, Enrollment.campaign_id == Campaign.id)
        .join(InboundMessage, InboundMessage.enrollment_id == Enrollment.id)
        .where(InboundMessage.person_id == person.id,
               InboundMessage.kind == "out_of_office")
        .order_by(InboundMessage.id.desc()).limit(1))


def person_standing(session: Session, person: Person, tz: ZoneInfo) -> Standing:
    return standing(person, [facts(e) for e in enrollments_of(session, person)], tz,
                    out_of_office_campaign(session, person))


def thread(session: Session, person: Person) -> list[ThreadItem]:
    """Our emails to the person and what came back, oldest first."""
    items: list[ThreadItem] = []
    for sent, send_id, cid, name in session.execute(
        select(SentMessage, Send.id, Campaign.id, Campaign.name)
        .join(Enrollment, Enrollment.id == SentMessage.enrollment_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .outerjoin(Send, (Send.enrollment_id == SentMessage.enrollment_id)
                   & (Send.position == SentMessage.position))
        .where(Enrollment.person_id == person.id)
    ):
        items.append(ThreadItem(
            at=sent.sent_at, direction="out", kind="sent", subject=sent.subject,
            text=html_to_text(sent.body_html), from_addr="", to_addr=sent.to_addr,
            campaign_id=cid, campaign_name=name, send_id=send_id))
    for row, cid, name in session.execute(
        select(InboundMessage, Campaign.id, Campaign.name)
        .outerjoin(Enrollment, Enrollment.id == InboundMessage.enrollment_id)
        .outerjoin(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(InboundMessage.person_id == person.id,
               InboundMessage.kind.in_(THREAD_KINDS))
    ):
        items.append(ThreadItem(
            at=row.received_at or row.processed_at, direction="in", kind=row.kind,
            subject=row.subject, text=row.excerpt, from_addr=row.from_addr, to_addr="",
            campaign_id=cid, campaign_name=name or ""))
    return sorted(items, key=lambda i: (i.at, i.direction != "out"))
