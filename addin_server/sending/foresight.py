"""Foresight: when every step of a launch will go, before anything is sent.

A dry run of a launch writes its rows inside a savepoint, calls `launch_forecast`, then rolls
the savepoint back: the forecast therefore reads exactly the rows the real launch writes, and
plans them with the functions the real code uses: the timing rules (campaigns/timing.py
`forecast`), the calendar (campaigns/calendar.py) and the mailbox's pacing (`assign_slots`).

Every active enrollment of the rep counts, with all its steps still to come, not only the one
in the outbox: later steps of people enrolled earlier compete for the same daily cap.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.campaigns.calendar import calendar_for, window_of
from addin_server.campaigns.timing import CampaignCalendar, Plan, day_date, forecast, local_instant
from addin_server.enrollments.advance import (
    completions,
    is_automatic,
    launch_of,
    rep_mailbox,
    step_timings,
)
from addin_server.enums import EnrollmentStatus, SendState, TaskStatus
from addin_server.guard import meter
from addin_server.models import Campaign, Enrollment, Organisation, Person, Rep, Send, Task
from addin_server.sending.pacing import (
    MailboxPace,
    Waiting,
    assign_slots,
    history,
    pace_of,
    rule_of,
)

RULES = ("cap", "gap", "batch", "window", "weekend", "holiday", "queue")


@dataclass(frozen=True)
class StepItem:
    """One step of one person as the forecast sees it."""

    enrollment_id: int
    position: int
    automatic: bool  # an automatic email (else a task: a due date, no time)
    due_date: date  # local campaign date the timing rules give
    planned_at: datetime | None  # the instant the timing rules give (before windows/pacing)
    expected_at: datetime | None  # when the mailbox is expected to send it
    rule: str  # the first rule that moved it ("" when none), one of RULES


@dataclass
class StepForecast:
    position: int
    kind: str  # "email" or "task"
    days: Counter[date] = field(default_factory=Counter)
    moved: Counter[str] = field(default_factory=Counter)
    first: datetime | date | None = None
    last: datetime | date | None = None


@dataclass(frozen=True)
class BulkDay:
    """The launch's emails on one UTC day to one consumer provider, against the organisation's
    bulk-sender line for the mailbox's primary domain (guard/meter.py)."""

    day: date
    provider: str
    before: int  # already counted today (0 for a later day: unknown yet)
    launch: int  # this launch's emails expected that day
    line: int
    held: int  # first emails that would wait for the next day (the organisation holds)

    @property
    def total(self) -> int:
        return self.before + self.launch

    @property
    def level(self) -> str:
        return ("line" if self.total >= self.line
                else "warn" if self.total >= meter.warn_at(self.line) else "ok")


@dataclass
class BulkForecast:
    domain: str
    hold: bool
    days: list[BulkDay]


@dataclass
class LaunchForecast:
    steps: list[StepForecast]
    items: list[StepItem]  # the launch's own people, every step
    queued_on_mailbox: int  # steps of other enrollments that compete for the mailbox
    mailbox: str | None
    bulk: BulkForecast | None = None


def _day_rule(due_date: date, start: date, day: int, cal: CampaignCalendar) -> str:
    """'holiday' or 'weekend' when the calendar moved this campaign day, else ''."""
    bare = day_date(start, day, CampaignCalendar(tz=cal.tz))
    if due_date == bare:
        return ""
    no_holidays = day_date(start, day, CampaignCalendar(tz=cal.tz,
                                                        skip_weekends=cal.skip_weekends))
    return "holiday" if due_date != no_holidays else "weekend"


@dataclass(frozen=True)
class _Row:
    enrollment: Enrollment
    person_tz: str | None


def _active(session: Session, rep_id: int) -> list[_Row]:
    rows = session.execute(
        select(Enrollment, Person.timezone)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.rep_id == rep_id, Enrollment.status == EnrollmentStatus.ACTIVE,
               Enrollment.current_position.is_not(None), Person.unsubscribed_at.is_(None))
        .order_by(Enrollment.id)
    ).all()
    return [_Row(e, tz) for e, tz in rows]


def _current_rows(session: Session, rep_id: int
                  ) -> tuple[dict[int, Send], dict[int, Task]]:
    """The step in progress of each of the rep's active enrollments: a pending send or a task."""
    sends: dict[int, Send] = {}
    for send in session.scalars(
        select(Send).join(
            Enrollment, Enrollment.id == Send.enrollment_id).where(
            Enrollment.rep_id == rep_id, Enrollment.status == EnrollmentStatus.ACTIVE,
            Send.position == Enrollment.current_position)
    ):
        sends[send.enrollment_id] = send
    tasks = {t.enrollment_id: t for t in session.scalars(
        select(Task).join(Enrollment, Enrollment.id == Task.enrollment_id).where(
            Enrollment.rep_id == rep_id, Enrollment.status == EnrollmentStatus.ACTIVE,
            Task.position == Enrollment.current_position, Task.status == TaskStatus.OPEN))}
    return sends, tasks


def _plans(session: Session, row: _Row, cal: CampaignCalendar, now: datetime,
           memo: dict[tuple[object, ...], list[Plan]]) -> list[Plan]:
    """Every step's plan for one enrollment (timing.forecast), shared by identical inputs."""
    e = row.enrollment
    done = completions(session, e, cal.tz) if e.current_position else {}
    key = (e.campaign_id, cal.tz.key, e.start_date, e.first_send_at,
           tuple(sorted((p, c.at, c.email_time) for p, c in done.items())))
    if key not in memo:
        memo[key] = forecast(step_timings(e.campaign.steps), launch_of(e), done, cal, now)
    return memo[key]


def launch_forecast(session: Session, rep: Rep, campaign: Campaign, enrollment_ids: set[int],
                    now: datetime) -> LaunchForecast:
    """Per step of `campaign`, how the steps of `enrollment_ids` fall, among everything else
    the rep's mailbox has to send."""
    # One pass over the rep's active enrollments building the mailbox's queue (each remaining
    # step, as a pacing.Waiting for emails), one assign_slots, then the launch's share of it.
    mailbox = rep_mailbox(session, rep.id)
    pace = pace_of(session, mailbox) if mailbox else MailboxPace(tz=ZoneInfo(rep.timezone))
    sends, tasks = _current_rows(session, rep.id)
    memo: dict[tuple[object, ...], list[Plan]] = {}
    calendars: dict[tuple[int, str | None], CampaignCalendar] = {}
    waiting: list[Waiting] = []
    meta: dict[int, tuple[int, int, Plan, str]] = {}  # key -> enrollment, position, plan, rule
    tasks_out: list[StepItem] = []
    others = 0
    for row in _active(session, rep.id):
        e = row.enrollment
        ck = (e.campaign_id, row.person_tz)
        if ck not in calendars:
            calendars[ck] = calendar_for(e.campaign, row.person_tz)
        cal = calendars[ck]
        window = window_of(e.campaign.extra_settings)
        plans = _plans(session, row, cal, now, memo)
        steps = e.campaign.steps
        assert e.current_position is not None
        for plan in plans[e.current_position:]:
            step = steps[plan.position]
            mine = e.id in enrollment_ids
            rule = _day_rule(plan.due_date, e.start_date, step.day, cal) if mine else ""
            due_at = plan.due_at
            if plan.position == e.current_position:
                send = sends.get(e.id)
                if send is not None:
                    if send.state != SendState.SCHEDULED or send.task_id is not None:
                        continue  # in flight (counted by history) or held: not in the queue
                    due_at = send.due_at
                    if mine and not rule and send.reason:
                        rule = rule_of(send.reason)  # the launch moved it into the window
                elif e.id in tasks:
                    plan = Plan(plan.position, tasks[e.id].due_date, None, None)
            if not is_automatic(step):
                if mine:
                    tasks_out.append(StepItem(e.id, plan.position, False, plan.due_date,
                                              None, None, rule))
                continue
            if due_at is None:  # "right away" after a task: assume the start of its day
                due_at = max(now, local_instant(plan.due_date, time(0), cal.tz))
            key = len(waiting) + 1
            waiting.append(Waiting(key, due_at, e.created_at, plan.position, cal.tz, window,
                                   cal.holidays))
            meta[key] = (e.id, plan.position, plan, rule)
            others += 0 if mine else 1
    slots = assign_slots(pace, history(session, mailbox, pace, now) if mailbox else [],
                         waiting, now)
    items = list(tasks_out)
    for slot in slots:
        eid, position, plan, day_rule = meta[slot.send_id]
        if eid in enrollment_ids:
            items.append(StepItem(eid, position, True, plan.due_date, plan.planned_at, slot.at,
                                  day_rule or rule_of(slot.reason)))
    return LaunchForecast(_summarise(campaign, items), items, others,
                          mailbox.address if mailbox else None,
                          bulk_forecast(session, rep, mailbox.address, items, now)
                          if mailbox else None)


def bulk_forecast(session: Session, rep: Rep, from_addr: str, items: list[StepItem],
                  now: datetime) -> BulkForecast:
    """Per UTC day and consumer provider, the launch's emails against the bulk-sender line:
    today's count so far plus the launch's (later days start from what this launch adds)."""
    people = dict(session.execute(
        select(Enrollment.id, Person.email).join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.id.in_({i.enrollment_id for i in items}))).all())
    # Each person's first email: what the organisation's setting holds at the line.
    first: dict[int, StepItem] = {}
    for item in sorted((i for i in items if i.expected_at), key=lambda i: i.position):
        first.setdefault(item.enrollment_id, item)
    launch: Counter[tuple[date, str]] = Counter()
    firsts: Counter[tuple[date, str]] = Counter()
    for item in items:
        provider = meter.consumer_provider(people.get(item.enrollment_id, ""))
        if item.expected_at is None or provider is None:
            continue
        key = (item.expected_at.astimezone(UTC).date(), provider)
        launch[key] += 1
        firsts[key] += first.get(item.enrollment_id) is item
    domain = meter.primary_domain(from_addr)
    today = now.astimezone(UTC).date()
    counts = meter.today_counts(session, rep.org_id, now, [domain])
    org = session.get(Organisation, rep.org_id)
    hold = bool(org and org.bulk_hold)
    days = []
    for (day, provider), n in sorted(launch.items()):
        before = counts.get((domain, provider), 0) if day == today else 0
        over = max(0, before + n - meter.LINE)
        days.append(BulkDay(day, provider, before, n, meter.LINE,
                            min(over, firsts[(day, provider)]) if hold else 0))
    return BulkForecast(domain, hold, days)


def _summarise(campaign: Campaign, items: list[StepItem]) -> list[StepForecast]:
    tz = ZoneInfo(campaign.timezone)
    out = [StepForecast(s.position, "email" if is_automatic(s) else "task")
           for s in campaign.steps]
    for item in items:
        f = out[item.position]
        when: datetime | date = item.expected_at if item.expected_at else item.due_date
        day = item.expected_at.astimezone(tz).date() if item.expected_at else item.due_date
        f.days[day] += 1
        if item.rule:
            f.moved[item.rule] += 1
        if f.first is None or _key(when) < _key(f.first):
            f.first = when
        if f.last is None or _key(when) > _key(f.last):
            f.last = when
    return out


def _key(when: datetime | date) -> tuple[date, str]:
    if isinstance(when, datetime):
        return (when.date(), when.isoformat())
    return (when, "")
