"""A campaign's results: the funnel, one row per step, sends and replies per day.

Grouped queries on indexes, none loading the sends: the funnel, the step rows and the chart
sum the counters kept as things happen (tallies.py, report_counts); what is true now (people
paused or out of office, held emails, overdue tasks) counts the few rows in that state
(ix_enrollments_report, ix_sends_state_due, ix_tasks_status_due). The date range selects
what happened on those days, in the campaign's time zone (people enrolled, emailed, replied,
... and each step's events); `rep_id` keeps one rep's people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from addin_server import tallies
from addin_server.enums import CallOutcome, EnrollmentStatus, SendState, StepType, TaskStatus
from addin_server.models import Campaign, Enrollment, ReportCount, Send, Task

STEP_METRICS = ("sent", "held", "failed", "replied", "bounced", "unsubscribed", "tasks_done",
                "tasks_skipped", "tasks_overdue", "tasks_on_time")
CALL_METRICS = tuple(tallies.CALL_PREFIX + o.value for o in CallOutcome)


@dataclass(frozen=True)
class Filters:
    start: date | None = None  # first day, in the campaign's time zone
    end: date | None = None  # last day, included
    rep_id: int | None = None

    def json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "rep_id": self.rep_id}


def rate(part: int, whole: int) -> float | None:
    """A share rounded to a tenth of a percent; None when there is nothing to divide by."""
    return round(part / whole, 3) if whole else None


def _funnel(session: Session, campaign: Campaign, flt: Filters, now: datetime,
            counts: dict[tuple[int, str], int]) -> dict[str, Any]:
    """The funnel from the campaign's counters (position -1) in the range; who is active,
    paused or out of office is the state now (all-time counters, and the paused rows)."""
    def c(metric: str) -> int:
        return counts.get((tallies.CAMPAIGN, metric), 0)

    r = ReportCount
    cond: list[ColumnElement[bool]] = [r.campaign_id == campaign.id,
                                       r.position == tallies.CAMPAIGN]
    if flt.rep_id is not None:
        cond.append(r.rep_id == flt.rep_id)
    ever = {m: int(n) for m, n in session.execute(
        select(r.metric, func.sum(r.n)).where(*cond).group_by(r.metric))}
    live = ever.get(tallies.ENROLLED, 0) - sum(
        n for m, n in ever.items() if m.startswith(tallies.ENDED))
    e = Enrollment
    paused_cond = [e.campaign_id == campaign.id, e.status == EnrollmentStatus.PAUSED]
    if flt.rep_id is not None:
        paused_cond.append(e.rep_id == flt.rep_id)
    ooo = and_(e.paused_until.is_not(None), e.paused_until > now)
    paused, away = session.execute(select(
        func.count(), func.coalesce(func.sum(case((ooo, 1), else_=0)), 0)
    ).where(*paused_cond)).one()
    replied, emailed = c(tallies.PEOPLE_REPLIED), c(tallies.EMAILED)
    return {
        "enrolled": c(tallies.ENROLLED),
        "active": live - int(paused),
        "paused": int(paused) - int(away),
        "out_of_office": int(away),
        "finished": c(tallies.ENDED + "finished"),
        "emailed": emailed,
        "replied": replied,
        "reply_rate": rate(replied, emailed),
        "bounced": c(tallies.PEOPLE_BOUNCED),
        "unsubscribed": c(tallies.PEOPLE_UNSUBSCRIBED),
        "stopped": c(tallies.ENDED + "stopped"),
    }


def _counts(session: Session, campaign: Campaign, flt: Filters) -> tuple[
        dict[tuple[int, str], int], list[dict[str, Any]]]:
    r = ReportCount
    cond: list[ColumnElement[bool]] = [r.campaign_id == campaign.id]
    if flt.start is not None:
        cond.append(r.day >= flt.start)
    if flt.end is not None:
        cond.append(r.day <= flt.end)
    if flt.rep_id is not None:
        cond.append(r.rep_id == flt.rep_id)
    per_step = {(p, m): int(n) for p, m, n in session.execute(
        select(r.position, r.metric, func.sum(r.n)).where(*cond)
        .group_by(r.position, r.metric))}
    days: dict[date, dict[str, Any]] = {}
    for day, metric, n in session.execute(
            select(r.day, r.metric, func.sum(r.n))
            .where(*cond, r.metric.in_((tallies.SENT, tallies.REPLIED)))
            .group_by(r.day, r.metric)):
        days.setdefault(day, {"day": day.isoformat(), "sent": 0, "replied": 0})[metric] = int(n)
    return per_step, [days[d] for d in sorted(days)]


def _current(session: Session, campaign: Campaign, flt: Filters, now: datetime) -> tuple[
        dict[int, int], dict[int, int]]:
    """Held emails and overdue tasks by position: what is waiting now, whatever the dates.

    Both start from the few rows in that state (ix_sends_state_due, ix_tasks_status_due) and
    look up each one's enrollment by its key: a join let the planner scan the campaign's
    whole enrollments table (200 ms at 250,000 people) to find a handful."""
    today = now.astimezone(ZoneInfo(campaign.timezone or "UTC")).date()

    def of(column: Any, owner: Any) -> Any:
        return select(column).where(Enrollment.id == owner).scalar_subquery()

    send_cond = [Send.state == SendState.HELD,
                 of(Enrollment.campaign_id, Send.enrollment_id) == campaign.id]
    task_cond = [Task.status == TaskStatus.OPEN, Task.due_date < today,
                 of(Enrollment.campaign_id, Task.enrollment_id) == campaign.id]
    if flt.rep_id is not None:
        send_cond.append(of(Enrollment.rep_id, Send.enrollment_id) == flt.rep_id)
        task_cond.append(Task.rep_id == flt.rep_id)
    held: dict[int, int] = dict(session.execute(
        select(Send.position, func.count()).where(*send_cond).group_by(Send.position)).all())
    overdue: dict[int, int] = dict(session.execute(
        select(Task.position, func.count()).where(*task_cond).group_by(Task.position)).all())
    return held, overdue


def _step_row(position: int, step_type: StepType, day: int, counts: dict[tuple[int, str], int],
              held: int, overdue: int) -> dict[str, Any]:
    row: dict[str, Any] = {"position": position, "type": step_type.value, "day": day}
    for metric in STEP_METRICS:
        row[metric] = counts.get((position, metric), 0)
    row["held"], row["tasks_overdue"] = held, overdue
    row["reply_rate"] = rate(row["replied"], row["sent"])
    row["on_time_rate"] = rate(row["tasks_on_time"], row["tasks_done"])
    row["calls"] = {o.value: counts.get((position, tallies.CALL_PREFIX + o.value), 0)
                    for o in CallOutcome}
    return row


def campaign_report(session: Session, campaign: Campaign, now: datetime,
                    flt: Filters = Filters()) -> dict[str, Any]:
    """The report of one campaign (the API's JSON and the page's figures)."""
    counts, days = _counts(session, campaign, flt)
    funnel = _funnel(session, campaign, flt, now, counts)
    held, overdue = _current(session, campaign, flt, now)
    steps = [_step_row(s.position, s.type, s.day, counts, held.get(s.position, 0),
                       overdue.get(s.position, 0)) for s in campaign.steps]
    totals = dict(funnel)
    for metric in ("sent", "held", "failed", "tasks_done", "tasks_skipped", "tasks_overdue"):
        totals[metric] = sum(s[metric] for s in steps)
    return {"campaign": {"id": campaign.id, "name": campaign.name,
                         "timezone": campaign.timezone},
            "filters": flt.json(), "totals": totals, "steps": steps, "days": days}
