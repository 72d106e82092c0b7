"""Actions on everyone in a campaign at once: pause, resume, stop; and the counts a confirm
shows first. They take a Session and never commit.

Each is the per-person use case of lifecycle.py applied to every person it concerns, so a
campaign pause does exactly what pausing each person does: their scheduled send stays in the
outbox and is not claimed while they are paused (sending/outbox.sendable), and a send a worker
has already claimed finishes (resume then moves that person on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from addin_server.enrollments import lifecycle
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.models import Campaign, Enrollment

# The pause reason a campaign pause writes on each person it pauses (the same column an
# automatic hold uses, shown as "paused, <reason>"): resuming the campaign resumes exactly
# these, and a person the rep paused on their own stays paused.
CAMPAIGN_PAUSED = "the campaign is paused"
CAMPAIGN_STOPPED = "the campaign was stopped"


@dataclass(frozen=True)
class LiveCounts:
    """How many people each campaign action would touch."""

    active: int = 0
    paused: int = 0  # all paused people
    paused_with_campaign: int = 0  # those a campaign pause paused (what resume resumes)

    @property
    def live(self) -> int:
        return self.active + self.paused


def live_counts(session: Session, campaign_id: int) -> LiveCounts:
    rows = session.execute(
        select(Enrollment.status, func.count(),
               func.count(case((Enrollment.stop_reason == CAMPAIGN_PAUSED, 1))))
        .where(Enrollment.campaign_id == campaign_id, Enrollment.status.in_(LIVE_ENROLLMENT))
        .group_by(Enrollment.status)).all()
    active = sum(n for status, n, _ in rows if status == EnrollmentStatus.ACTIVE)
    paused = sum(n for status, n, _ in rows if status == EnrollmentStatus.PAUSED)
    with_campaign = sum(k for status, _, k in rows if status == EnrollmentStatus.PAUSED)
    return LiveCounts(active, paused, with_campaign)


def _people(session: Session, campaign: Campaign, *conditions: ColumnElement[bool]
            ) -> list[Enrollment]:
    return list(session.scalars(select(Enrollment).where(
        Enrollment.campaign_id == campaign.id, *conditions).order_by(Enrollment.id)))


def pause_campaign(session: Session, campaign: Campaign, now: datetime) -> int:
    """Pause every active person. Returns how many were paused."""
    people = _people(session, campaign, Enrollment.status == EnrollmentStatus.ACTIVE)
    for enrollment in people:
        lifecycle.pause(session, enrollment, now)
        enrollment.stop_reason = CAMPAIGN_PAUSED
    session.flush()
    return len(people)


def resume_campaign(session: Session, campaign: Campaign, now: datetime) -> int:
    """Resume the people the campaign pause paused (not those paused one by one, nor those an
    out-of-office reply or a bounce burst holds). A send that fell due meanwhile goes now, in
    the sending window, and the steps after it keep their spacing (lifecycle.resume)."""
    people = _people(session, campaign, Enrollment.status == EnrollmentStatus.PAUSED,
                     Enrollment.stop_reason == CAMPAIGN_PAUSED)
    done = lifecycle.steps_done(session, people)
    for enrollment in people:
        lifecycle.resume(session, enrollment, now, step_done=enrollment.id in done)
    session.flush()
    return len(people)


def stop_campaign(session: Session, campaign: Campaign, now: datetime) -> int:
    """End everyone still in the campaign (active or paused): their scheduled sends and open
    tasks are cancelled with the reason. Returns how many people were stopped."""
    people = _people(session, campaign, Enrollment.status.in_(LIVE_ENROLLMENT))
    lifecycle.end_many(session, people, now, reason=CAMPAIGN_STOPPED)
    session.flush()
    return len(people)
