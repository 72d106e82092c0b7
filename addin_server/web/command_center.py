"""What the Command Center shows: the rep's tasks by due bucket, emails by state with the reason
a pending one has not gone out, and the people in the rep's campaigns. Read-only queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from addin_server.accounts import rep_today
from addin_server.enrollments.status import send_reason
from addin_server.enums import (
    LIVE_ENROLLMENT,
    PENDING_SEND,
    EnrollmentStatus,
    MailboxStatus,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Rep, Send, Step, Task

LIMIT = 200  # open tasks shown (twice this)
PAGE = 100  # rows per page in Emails and People
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


def _mailbox_blocked(now: datetime) -> ColumnElement[bool]:
    """SQL twin of status.mailbox_reason: no mailbox, disconnected, or paused by its provider."""
    return or_(Mailbox.id.is_(None), Mailbox.status == MailboxStatus.DISCONNECTED,
               and_(Mailbox.paused_until.is_not(None), Mailbox.paused_until > now))


def email_tab_filter(tab: str, now: datetime) -> ColumnElement[bool]:
    """Which sends a tab holds, as SQL, so that each tab is counted and paged on its own (one
    query across every state used to cut the list before the tabs were split)."""
    if tab == "sent":
        return Send.state == SendState.SENT
    if tab == "failed":
        return Send.state == SendState.FAILED
    to_go = Send.state.in_((SendState.SCHEDULED, SendState.QUEUED))
    waiting = or_(Send.state == SendState.HELD,
                  and_(to_go, or_(Enrollment.status == EnrollmentStatus.PAUSED,
                                  _mailbox_blocked(now))))
    if tab == "waiting":
        return waiting
    # Scheduled: still to go and nothing in the way, or being sent right now.
    return or_(and_(to_go, not_(or_(Enrollment.status == EnrollmentStatus.PAUSED,
                                    _mailbox_blocked(now)))),
               Send.state.in_((SendState.SENDING, SendState.UNKNOWN)))


def _emails_query(rep: Rep, q: str, campaign_id: int | None = None) -> Select:
    query = (
        select(Send, Person, Campaign, Enrollment, Mailbox)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .outerjoin(Mailbox, Mailbox.id == Send.mailbox_id)
        .where(Enrollment.rep_id == rep.id)
    )
    if campaign_id is not None:
        query = query.where(Enrollment.campaign_id == campaign_id)
    return _search(query, q)


def email_counts(session: Session, rep: Rep, now: datetime, q: str = "",
                 campaign_id: int | None = None) -> dict[str, int]:
    """The true number of emails in each tab (one COUNT each)."""
    base = _emails_query(rep, q, campaign_id)
    return {tab: int(session.scalar(
        select(func.count()).select_from(base.where(email_tab_filter(tab, now)).subquery()))
        or 0) for tab in EMAIL_TABS}


def emails(session: Session, rep: Rep, now: datetime, tab: str, q: str = "", page: int = 1,
           campaign_id: int | None = None) -> list[EmailRow]:
    """One page of a tab, each email with its reason: soonest first for what is still to go,
    latest first for what went (or failed)."""
    order = ((Send.due_at, Send.id) if tab in ("scheduled", "waiting")
             else (Send.due_at.desc(), Send.id.desc()))
    query = (_emails_query(rep, q, campaign_id).where(email_tab_filter(tab, now))
             .order_by(*order)
             .limit(PAGE).offset((max(page, 1) - 1) * PAGE))
    rows = []
    for send, person, campaign, enrollment, mailbox in session.execute(query):
        reason = send_reason(send, mailbox, campaign.timezone, now)
        if enrollment.status == EnrollmentStatus.PAUSED and send.state in PENDING_SEND:
            reason = "paused: " + reason
        rows.append(EmailRow(send, person, campaign, enrollment, reason))
    return rows


@dataclass(frozen=True)
class PersonRow:
    enrollment: Enrollment
    person: Person
    campaign: Campaign
    step_count: int


def _people_query(rep: Rep, q: str, status: str, campaign_id: int | None = None) -> Select:
    query = (
        select(Enrollment, Person, Campaign, _step_count())
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Enrollment.rep_id == rep.id)
    )
    if status == "live":
        query = query.where(Enrollment.status.in_(LIVE_ENROLLMENT))
    if campaign_id is not None:
        query = query.where(Enrollment.campaign_id == campaign_id)
    return _search(query, q)


def people(session: Session, rep: Rep, q: str = "", status: str = "live", page: int = 1,
           campaign_id: int | None = None) -> tuple[list[PersonRow], int]:
    """One page of the rep's enrollments (live ones, active or paused, by default, or every
    one; of one campaign or all), and how many there are in all."""
    query = _people_query(rep, q, status, campaign_id)
    total = int(session.scalar(select(func.count()).select_from(
        query.with_only_columns(Enrollment.id).subquery())) or 0)
    rows = session.execute(query.order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
                           .limit(PAGE).offset((max(page, 1) - 1) * PAGE))
    return [PersonRow(e, p, c, int(n)) for e, p, c, n in rows], total


@dataclass(frozen=True)
class ListFilter:
    """What a People list or an Emails tab shows: the filter a bulk action on "all N
    matching" applies, so that it acts on exactly the rows the rep's list counts."""

    view: str  # "people" or "emails"
    q: str = ""
    status: str = "live"  # people: "live" (active or paused) or "all"
    state: str = "scheduled"  # emails: one of EMAIL_TABS
    campaign_id: int | None = None


def matching_enrollments(session: Session, rep: Rep, now: datetime, flt: ListFilter,
                         limit: int) -> list[int]:
    """The enrollment ids of every row the filter matches (an email's person for the Emails
    tab, once each), at most `limit` + 1 so the caller can tell "more than `limit`"."""
    if flt.view == "people":
        query = _people_query(rep, flt.q, flt.status, flt.campaign_id)
    else:
        query = (_emails_query(rep, flt.q, flt.campaign_id)
                 .where(email_tab_filter(flt.state, now)))
    ids = query.with_only_columns(Enrollment.id).distinct().order_by(Enrollment.id)
    return list(session.scalars(ids.limit(limit + 1)))


@dataclass(frozen=True)
class Counts:
    tasks: int
    pending_emails: int
    people: int


def due_task_count(session: Session, rep: Rep, now: datetime) -> int:
    """The navigation badge: the rep's open tasks due today or earlier in the rep's zone
    (tomorrow's are not work for today)."""
    return int(session.scalar(select(func.count(Task.id)).where(
        Task.rep_id == rep.id, Task.status == TaskStatus.OPEN,
        Task.due_date <= rep_today(rep, now))) or 0)


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
