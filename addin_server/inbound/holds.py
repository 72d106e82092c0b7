"""What a reply or an out-of-office does beyond the one enrollment it answered:
- a person's out-of-office holds them in every campaign (each live enrollment pauses until the
  return date, or an earlier out-of-office pause is extended);
- a reply from a colleague at the same company (not the person, not a webmail domain) stops
  every live enrollment of the organisation at that company, when the campaign says so
  (`stop_company_on_colleague_reply`).
Each leaves its reason where the person's page shows it. Functions take a Session and never
commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.inbound.matching import FREEMAIL
from addin_server.models import Enrollment, Person, PersonAddress
from addin_server.validation import domain_of


def hold_until(session: Session, live: list[Enrollment], until: datetime, now: datetime
               ) -> int:
    """Pause each active enrollment until `until`; extend an earlier out-of-office pause. A
    pause by the rep (no paused_until) is the rep's to lift. Returns how many are held."""
    held = 0
    for e in live:
        if e.status == EnrollmentStatus.ACTIVE:
            enrollments.pause(session, e, now)
            e.paused_until = until
            held += 1
        elif e.status == EnrollmentStatus.PAUSED and e.paused_until is not None:
            e.paused_until = max(e.paused_until, until)
            held += 1
    session.flush()
    return held


def is_colleague(session: Session, person: Person, sender: str) -> bool:
    """The sender works at the person's company: same domain, not them, not webmail."""
    sender = sender.strip().lower()
    domain = domain_of(sender)
    if not domain or domain in FREEMAIL or sender == person.email.lower():
        return False
    if session.scalar(select(PersonAddress.id).where(PersonAddress.person_id == person.id,
                                                     PersonAddress.email == sender)):
        return False  # another address of the person
    return domain_of(person.email) == domain


def stop_company(session: Session, org_id: int, domain: str, reason: str, now: datetime,
                 *, keep: int) -> int:
    """End the organisation's live enrollments of people at `domain` (but `keep`, which the
    reply itself ends). Returns how many."""
    rows = session.scalars(
        select(Enrollment).join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.org_id == org_id, Enrollment.status.in_(LIVE_ENROLLMENT),
               Enrollment.id != keep, Person.email.like(f"%@{domain}")))
    stopped = 0
    for e in rows:
        enrollments.end(session, e, now, status=EnrollmentStatus.STOPPED, reason=reason)
        stopped += 1
    return stopped
