"""What the Command Center shows: the rep's tasks by due bucket, emails by state with the reason
a pending one has not gone out, and the people in the rep's campaigns. Read-only queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ScalarSelect, Select, func, or_, select
from sqlalchemy.orm import Session

from addin_server.accounts import rep_today
from addin_server.enrollments.status import mailbox_reason, send_reason
from addin_server.enums import (
    LIVE_ENROLLMENT,
    PENDING_SEND,
    EnrollmentStatus,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Rep, Send, Step, Task

LIMIT = 200
EMAIL_TABS = ("scheduled", "waiting", "sent", "failed")
BUCKETS = ("overdue", "today", "tomorrow", "week", "later")
BUCKET_TITLES = {"overdue": "Overdue", "today": "Today", "tomorrow": "Tomorrow",
                 "week": "Next 7 days", "later": "Later"}


@dataclass(frozen=True)
class TaskRow:
    task: Task
    person: Person
    campaign: Campaign
    step_count: int


@dataclass
class TaskBuckets:
    rows: dict[str, list[TaskRow]] = field(default_factory=lambda: {b: [] for b in BUCKETS})

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.rows.values())


def bucket_of(due: date, today: date) -> str:
    if due < today:
        return "overdue"
    if due == today:
        return "today"
    if due == today + timedelta(days=1):
        return "tomorrow"
    if due <= today + timedelta(days=7):
        return "week"
    return "later"


def _search(query: Select, q: str) -> Select:
    if not q:
        return query
    like = f"%{q.strip().lower()}%"
    full_name = func.lower(Person.first_name + " " + Person.last_name)
    return query.where(or_(Person.email.like(like), full_name.like(like),
                           func.lower(Person.company).like(like),
                           func.lower(Campaign.name).like(like)))


def _step_count() -> ScalarSelect[int]:
    return (select(func.count(Step.id)).where(Step.campaign_id == Campaign.id)
            .correlate(Campaign).scalar_subquery())


def open_tasks(session: Session, rep: Rep, now: datetime, q: str = "") -> TaskBuckets:
    """The rep's open tasks, email tasks first within a day (quickest to clear)."""
    steps = _step_count()
    query = (
        select(Task, Person, Campaign, steps)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.rep_id == rep.id, Task.status == TaskStatus.OPEN)
        .order_by(Task.due_date, Task.type != StepType.EMAIL, Task.id)
        .limit(LIMIT * 2)
    )
    today = rep_today(rep, now)
    buckets = TaskBuckets()
    for task, person, campaign, count in session.execute(_search(query, q)):
        buckets.rows[bucket_of(task.due_date, today)].append(
            TaskRow(task, person, campaign, int(count)))
    return buckets


def next_task_id(session: Session, rep: Rep, after: Task) -> int | None:
    """The open task that follows `after` in the Command Center's order (for "next")."""
    rows = session.execute(
        select(Task.id, Task.due_date, Task.type)
        .where(Task.rep_id == rep.id, Task.status == TaskStatus.OPEN, Task.id != after.id)
        .order_by(Task.due_date, Task.type != StepType.EMAIL, Task.id)
        .limit(1)
    ).all()
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class EmailRow:
    send: Send
    person: Person
    campaign: Campaign
    enrollment: Enrollment
    reason: str


def _email_tab(send: Send, enrollment: Enrollment, mailbox: Mailbox | None, now: datetime
               ) -> str:
    if send.state == SendState.SENT:
        return "sent"
    if send.state == SendState.FAILED:
        return "failed"
    if send.state == SendState.CANCELLED:
        return "cancelled"
    if send.state == SendState.HELD or enrollment.status == EnrollmentStatus.PAUSED:
        return "waiting"
    if send.state in PENDING_SEND and mailbox_reason(mailbox, now):
        return "waiting"
    return "scheduled"


def emails(session: Session, rep: Rep, now: datetime, q: str = ""
           ) -> tuple[dict[str, list[EmailRow]], dict[str, int]]:
    """The rep's emails by tab (scheduled, waiting, sent, failed) with each one's reason."""
    query = (
        select(Send, Person, Campaign, Enrollment, Mailbox)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .outerjoin(Mailbox, Mailbox.id == Send.mailbox_id)
        .where(Enrollment.rep_id == rep.id, Send.state != SendState.CANCELLED)
        .order_by(Send.due_at.desc(), Send.id.desc())
        .limit(LIMIT * 5)
    )
    tabs: dict[str, list[EmailRow]] = {t: [] for t in EMAIL_TABS}
    for send, person, campaign, enrollment, mailbox in session.execute(_search(query, q)):
        tab = _email_tab(send, enrollment, mailbox, now)
        if tab not in tabs:
            continue
        reason = send_reason(send, mailbox, campaign.timezone, now)
        if enrollment.status == EnrollmentStatus.PAUSED and send.state in PENDING_SEND:
            reason = "paused: " + reason
        tabs[tab].append(EmailRow(send, person, campaign, enrollment, reason))
    for tab in ("scheduled", "waiting"):  # soonest first for what is still to go
        tabs[tab].reverse()
    counts = {t: len(v) for t, v in tabs.items()}
    return {t: v[:LIMIT] for t, v in tabs.items()}, counts


@dataclass(frozen=True)
class PersonRow:
    enrollment: Enrollment
    person: Person
    campaign: Campaign
    step_count: int


def people(session: Session, rep: Rep, q: str = "", status: str = "live") -> list[PersonRow]:
    """The rep's enrollments: live ones (active, paused) by default, or every one."""
    steps = _step_count()
    query = (
        select(Enrollment, Person, Campaign, steps)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Enrollment.rep_id == rep.id)
        .order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
        .limit(LIMIT)
    )
    if status == "live":
        query = query.where(Enrollment.status.in_(LIVE_ENROLLMENT))
    return [PersonRow(e, p, c, int(n)) for e, p, c, n in session.execute(_search(query, q))]


@dataclass(frozen=True)
class Counts:
    tasks: int
    pending_emails: int
    people: int


def counts(session: Session, rep: Rep, q: str = "") -> Counts:
    """The tab counts, by SQL: open tasks, emails still to go, people active or paused."""
    def scalar(query: Select) -> int:
        return int(session.scalar(_search(query, q)) or 0)

    base = (select(func.count()).select_from(Enrollment)
            .join(Person, Person.id == Enrollment.person_id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .where(Enrollment.rep_id == rep.id))
    return Counts(
        tasks=scalar(base.join(Task, Task.enrollment_id == Enrollment.id)
                     .where(Task.status == TaskStatus.OPEN)),
        pending_emails=scalar(base.join(Send, Send.enrollment_id == Enrollment.id)
                              .where(Send.state.in_(PENDING_SEND))),
        people=scalar(base.where(Enrollment.status.in_(LIVE_ENROLLMENT))),
    )
