"""What the Command Center shows: the rep's tasks by due bucket, emails by state with the reason
a pending one has not gone out, and the people in the rep's campaigns. Read-only queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from addin_server import row_counts
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
from addin_server.paging import in_order, page_keys
from addin_server.row_counts import StateCounts

PAGE = 100  # rows per page in Tasks, Emails and People
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


def open_tasks(session: Session, rep: Rep, now: datetime, q: str = "", page: int = 1
               ) -> TaskBuckets:
    """One page of the rep's open tasks, email tasks first within a day (quickest to clear);
    Counts.tasks is how many there are in all."""
    steps = _step_count()
    order = (Task.due_date, Task.type != StepType.EMAIL, Task.id)
    query = (
        select(Task, Person, Campaign, steps)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.rep_id == rep.id, Task.status == TaskStatus.OPEN)
        .order_by(*order)
    )
    offset = (max(page, 1) - 1) * PAGE
    if q:
        query = _search(query, q).limit(PAGE).offset(offset)
    else:
        # The page's tasks first, on ix_tasks_rep_status, then their rows: joined before the
        # LIMIT, the planner read every enrollment to find a page of 100 tasks.
        page_ids = (select(Task.id).where(Task.rep_id == rep.id,
                                          Task.status == TaskStatus.OPEN)
                    .order_by(*order).limit(PAGE).offset(offset))
        query = query.where(Task.id.in_(page_ids.scalar_subquery()))
    today = rep_today(rep, now)
    buckets = TaskBuckets()
    for task, person, campaign, count in session.execute(query):
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


# Without a search, a tab is read from the sends alone, on ix_sends_rep_state_due: one part
# per state (paging.py), "held up" decided from the send's own mailbox and enrollment ids.
TO_GO = (SendState.SCHEDULED, SendState.QUEUED)
IN_FLIGHT = (SendState.SENDING, SendState.UNKNOWN)


def _held_up(rep: Rep, now: datetime) -> ColumnElement[bool]:
    """SQL on a send of the rep's: its person is paused or its mailbox cannot send (the same
    rule as email_tab_filter, without joining the send to anything)."""
    blocked = select(Mailbox.id).where(Mailbox.rep_id == Rep.id, Rep.org_id == rep.org_id,
                                       or_(Mailbox.status == MailboxStatus.DISCONNECTED,
                                           and_(Mailbox.paused_until.is_not(None),
                                                Mailbox.paused_until > now)))
    paused = select(Enrollment.id).where(Enrollment.rep_id == rep.id,
                                         Enrollment.status == EnrollmentStatus.PAUSED)
    return or_(Send.mailbox_id.is_(None), Send.mailbox_id.in_(blocked),
               Send.enrollment_id.in_(paused))


def _tab_parts(rep: Rep, now: datetime, tab: str) -> list[Select]:
    """The tab as one SELECT of the rep's sends per state."""
    def part(state: SendState, *where: ColumnElement[bool]) -> Select:
        return select(Send.id).where(Send.rep_id == rep.id, Send.state == state, *where)

    if tab == "sent":
        return [part(SendState.SENT)]
    if tab == "failed":
        return [part(SendState.FAILED)]
    if tab == "waiting":
        return [part(SendState.HELD), *(part(s, _held_up(rep, now)) for s in TO_GO)]
    return [*(part(s, not_(_held_up(rep, now))) for s in TO_GO),
            *(part(s) for s in IN_FLIGHT)]


def email_counts(session: Session, rep: Rep, now: datetime, q: str = "",
                 by_state: StateCounts | None = None, campaign_id: int | None = None
                 ) -> dict[str, int]:
    """The true number of emails in each tab. Without a search or a campaign: from the rep's
    sends counted by state (`by_state`, send_state_counts); with one, one COUNT per tab over
    the joined rows."""
    if q or campaign_id is not None:
        base = _emails_query(rep, q, campaign_id)
        return {tab: int(session.scalar(
            select(func.count()).select_from(base.where(email_tab_filter(tab, now))
                                             .subquery())) or 0) for tab in EMAIL_TABS}
    if by_state is None:
        by_state = send_state_counts(session, rep, now)
    held_up = sum(by_state.get(s, (0, 0))[1] for s in TO_GO)
    to_go = sum(by_state.get(s, (0, 0))[0] for s in TO_GO)
    return {"scheduled": to_go - held_up + sum(by_state.get(s, (0, 0))[0] for s in IN_FLIGHT),
            "waiting": by_state.get(SendState.HELD, (0, 0))[0] + held_up,
            "sent": by_state.get(SendState.SENT, (0, 0))[0],
            "failed": by_state.get(SendState.FAILED, (0, 0))[0]}


def send_state_counts(session: Session, rep: Rep, now: datetime) -> StateCounts:
    """The rep's sends by state, and how many of them are held up (paused person, mailbox
    unable to send): from send_counts (PostgreSQL's triggers keep it)."""
    return row_counts.sends_by_state(session, [rep.id], blocked_mailboxes(session, rep, now))


def blocked_mailboxes(session: Session, rep: Rep, now: datetime) -> list[int]:
    """The organisation's mailboxes that cannot send now (the rule of _mailbox_blocked)."""
    return list(session.scalars(select(Mailbox.id).join(Rep, Rep.id == Mailbox.rep_id).where(
        Rep.org_id == rep.org_id, or_(Mailbox.status == MailboxStatus.DISCONNECTED,
                                      and_(Mailbox.paused_until.is_not(None),
                                           Mailbox.paused_until > now)))))


def emails(session: Session, rep: Rep, now: datetime, tab: str, q: str = "", page: int = 1,
           campaign_id: int | None = None) -> list[EmailRow]:
    """One page of a tab, each email with its reason: soonest first for what is still to go,
    latest first for what went (or failed)."""
    desc = tab not in ("scheduled", "waiting")
    offset = (max(page, 1) - 1) * PAGE
    query = _emails_query(rep, q, campaign_id)
    if q or campaign_id is not None:
        order = (Send.due_at.desc(), Send.id.desc()) if desc else (Send.due_at, Send.id)
        query = (query.where(email_tab_filter(tab, now)).order_by(*order)
                 .limit(PAGE).offset(offset))
        found = list(session.execute(query))
    else:
        ids = page_keys(session, _tab_parts(rep, now, tab), (Send.due_at, Send.id),
                        desc=desc, limit=PAGE, offset=offset)
        found = in_order(list(session.execute(query.where(Send.id.in_(ids)))), ids,
                         lambda row: row[0].id)
    rows = []
    for send, person, campaign, enrollment, mailbox in found:
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


def _people_statuses(status: str) -> tuple[EnrollmentStatus, ...]:
    return tuple(LIVE_ENROLLMENT) if status == "live" else tuple(EnrollmentStatus)


def people(session: Session, rep: Rep, q: str = "", status: str = "live", page: int = 1,
           live_total: int | None = None, campaign_id: int | None = None
           ) -> tuple[list[PersonRow], int]:
    """One page of the rep's enrollments (live ones, active or paused, by default, or every
    one; of one campaign or all), and how many there are in all (`live_total` when the caller
    counted the live ones already). Without a search or a campaign, paged and counted on
    ix_enrollments_rep_status_updated, one part per status."""
    query = _people_query(rep, q, status, campaign_id)
    joined = bool(q) or campaign_id is not None
    offset = (max(page, 1) - 1) * PAGE
    statuses = _people_statuses(status)
    if status == "live" and live_total is not None and campaign_id is None:
        total = live_total
    elif joined:
        total = int(session.scalar(select(func.count()).select_from(
            query.with_only_columns(Enrollment.id).subquery())) or 0)
    else:
        total = sum(row_counts.enrollments_by_status(session, rep_ids=[rep.id],
                                                     statuses=statuses).values())
    if joined:
        found = list(session.execute(
            query.order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
            .limit(PAGE).offset(offset)))
    else:
        parts = [select(Enrollment.id).where(Enrollment.rep_id == rep.id,
                                             Enrollment.status == s) for s in statuses]
        ids = page_keys(session, parts, (Enrollment.updated_at, Enrollment.id), desc=True,
                        limit=PAGE, offset=offset)
        found = in_order(list(session.execute(query.where(Enrollment.id.in_(ids)))), ids,
                         lambda row: row[0].id)
    return [PersonRow(e, p, c, int(n)) for e, p, c, n in found], total


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


def counts(session: Session, rep: Rep, q: str = "", by_state: StateCounts | None = None
           ) -> Counts:
    """The tab counts, by SQL: open tasks, emails still to go, people active or paused.
    Without a search, each on its own index, the emails from `by_state` when given."""
    def scalar(query: Select) -> int:
        return int(session.scalar(_search(query, q)) or 0)

    base = (select(func.count()).select_from(Enrollment)
            .join(Person, Person.id == Enrollment.person_id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .where(Enrollment.rep_id == rep.id))
    if not q:  # each on its index: the rep's open tasks, sends still to go, live people
        return Counts(
            tasks=int(session.scalar(select(func.count()).select_from(Task).where(
                Task.rep_id == rep.id, Task.status == TaskStatus.OPEN)) or 0),
            pending_emails=sum(by_state.get(s, (0, 0))[0] for s in PENDING_SEND)
            if by_state is not None else int(session.scalar(
                select(func.count()).select_from(Send).where(
                    Send.rep_id == rep.id, Send.state.in_(PENDING_SEND))) or 0),
            people=sum(row_counts.enrollments_by_status(
                session, rep_ids=[rep.id], statuses=LIVE_ENROLLMENT).values()))
    return Counts(
        tasks=scalar(base.join(Task, Task.enrollment_id == Enrollment.id)
                     .where(Task.status == TaskStatus.OPEN)),
        pending_emails=scalar(base.join(Send, Send.enrollment_id == Enrollment.id)
                              .where(Send.state.in_(PENDING_SEND))),
        people=scalar(base.where(Enrollment.status.in_(LIVE_ENROLLMENT))),
    )
