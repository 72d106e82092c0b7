"""Bounce quarantine: a burst of bounce reports from one provider in a short time (a false
bounce storm: a receiving provider's outage or a filter gone wrong) is held for review instead
of ending enrollments, and an admin releases a whole burst in one action, which resumes the
people it held. Functions take a Session and never commit.

A held bounce pauses the person's live enrollments that remove on bounce (the reason is kept in
`stop_reason`, which the person's page shows), does not suppress the address and does not count
for the breakers. Bounces before the burst reached its threshold acted as usual.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import EnrollmentStatus
from addin_server.guard.rules import Thresholds
from addin_server.models import Bounce, Enrollment

HELD = "held for review"


def provider_of(reporter: str) -> str:
    """Who reported a bounce: the last two labels of the DSN sender's domain
    (mailer-daemon@googlemail.com -> googlemail.com; postmaster@x.onmicrosoft.com ->
    onmicrosoft.com)."""
    domain = reporter.rsplit("@", 1)[-1].strip().lower()
    return ".".join(domain.split(".")[-2:]) if domain else ""


def in_burst(session: Session, t: Thresholds, org_id: int, provider: str,
             now: datetime) -> bool:
    """Whether this report, with those of the last `burst_minutes` from the same provider,
    makes `burst_count`."""
    if not provider or t.burst_count <= 0:
        return False
    recent = session.scalar(select(func.count()).where(
        Bounce.org_id == org_id, Bounce.provider == provider, Bounce.source == "dsn",
        Bounce.at >= now - timedelta(minutes=t.burst_minutes))) or 0
    return recent + 1 >= t.burst_count


def hold(session: Session, live: list[Enrollment], provider: str, now: datetime) -> int:
    """Pause the person's active enrollments with the burst's reason. Returns how many."""
    held = 0
    for e in live:
        if e.status == EnrollmentStatus.ACTIVE and e.campaign.remove_on_bounce:
            enrollments.pause(session, e, now)
            e.stop_reason = f"{HELD}: one of a burst of bounces from {provider}"
            held += 1
    return held


def held_bursts(session: Session, org_id: int) -> list[dict[str, object]]:
    """The organisation's held bounces, by provider, that nobody released yet."""
    rows = session.execute(
        select(Bounce.provider, func.count(), func.min(Bounce.at), func.max(Bounce.at))
        .where(Bounce.org_id == org_id, Bounce.held.is_(True), Bounce.released_at.is_(None))
        .group_by(Bounce.provider).order_by(Bounce.provider)).all()
    return [{"provider": p, "bounces": n, "first_at": first, "last_at": last}
            for p, n, first, last in rows]


def release_burst(session: Session, org_id: int, provider: str, now: datetime, *,
                  by: str) -> int:
    """An admin says the burst was false: every person it held resumes. Returns how many
    enrollments resumed."""
    rows = list(session.scalars(select(Bounce).where(
        Bounce.org_id == org_id, Bounce.provider == provider, Bounce.held.is_(True),
        Bounce.released_at.is_(None))))
    resumed = 0
    for bounce in rows:
        bounce.released_at = now
        person_id = session.scalar(select(Enrollment.person_id).where(
            Enrollment.id == bounce.enrollment_id))
        for e in session.scalars(select(Enrollment).where(
                Enrollment.org_id == org_id, Enrollment.person_id == person_id,
                Enrollment.status == EnrollmentStatus.PAUSED,
                Enrollment.stop_reason.startswith(HELD))):
            e.stop_reason = ""
            enrollments.resume(session, e, now)
            resumed += 1
    if rows:
        feed.record(session, org_id=org_id, type=feed.BOUNCES_RELEASED, at=now,
                    provider=provider, bounces=len(rows), resumed=resumed, by=by)
    return resumed
