"""An unsubscribe, whichever way it comes (the one-click POST, our page, the rep, or an email to
the mailto of List-Unsubscribe): the address is suppressed, the person marked, and their live
enrollments end. Use cases take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.enrollments import lifecycle
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.models import Enrollment, Person, Suppression
from addin_server.suppressions import read_unsubscribe_token, suppress


def unsubscribe(session: Session, org_id: int, email: str, now: datetime, *,
                source: str) -> bool:
    """Record an unsubscribe (one-click POST, our page, or the rep): the address is suppressed,
    the person marked, and their live enrollments end. False when it was already recorded."""
    email = email.strip().lower()
    new = suppress(session, org_id, email, "unsubscribed", now, note=source)
    if not new:
        existing = session.scalar(select(Suppression).where(Suppression.org_id == org_id,
                                                            Suppression.email == email))
        if existing is not None and existing.reason != "unsubscribed":
            existing.reason, new = "unsubscribed", True
    person = session.scalar(select(Person).where(Person.org_id == org_id, Person.email == email))
    if person is None:
        return new
    if person.unsubscribed_at is None:
        person.unsubscribed_at = now
        new = True
    live = list(session.scalars(select(Enrollment).where(
        Enrollment.person_id == person.id, Enrollment.status.in_(LIVE_ENROLLMENT))))
    # Counted (once) on the campaigns it ends, or, after they all ended, on the latest one:
    # the link in the last email of a finished campaign is the usual way out.
    latest = live or list(session.scalars(select(Enrollment).where(
        Enrollment.person_id == person.id).order_by(Enrollment.id.desc()).limit(1)))
    for e in latest:
        tallies.count_unsubscribe(session, e, now)
    for e in live:
        lifecycle.end(session, e, now, status=EnrollmentStatus.UNSUBSCRIBED,
                        reason="unsubscribed")
    if new:
        feed.record(session, org_id=org_id, type=feed.UNSUBSCRIBED, at=now, person_id=person.id,
                    rep_id=live[0].rep_id if live else None,
                    campaign_id=live[0].campaign_id if live else None,
                    email=email, source=source, enrollments_ended=len(live))
    return new


def unsubscribe_by_email(session: Session, msg: Message, secret_key: str, now: datetime) -> bool:
    words = str(msg.get("Subject", "")).split()
    if len(words) != 2 or words[0].lower() != "unsubscribe":
        return False
    found = read_unsubscribe_token(secret_key, words[1])
    if found is None:
        return False
    unsubscribe(session, found[0], found[1], now, source="email")
    return True
