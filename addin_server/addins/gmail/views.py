"""What the Gmail add-on's cards show, read from the database into the plain values that the
card builders in `gmail_addon/` take."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.accounts import visible_people, visible_templates
from addin_server.campaigns.service import campaigns_for
from addin_server.enrollments.advance import rep_mailbox
from addin_server.enrollments.status import view
from addin_server.enums import LIVE_ENROLLMENT, MailboxStatus, SendOption, StepType, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Rep, Task, Template
from gmail_addon.message_card import (
    CampaignChoice,
    EnrollmentItem,
    PersonItem,
    StepLine,
    TemplateChoice,
)
from gmail_addon.tasks_card import PAGE_SIZE, TaskItem


def connection_problem(session: Session, rep: Rep) -> str:
    """Why the rep cannot use the add-on yet ("" when they can)."""
    mailbox = rep_mailbox(session, rep.id)
    if mailbox is None:
        return "no mailbox is connected"
    if mailbox.status == MailboxStatus.DISCONNECTED:
        return f"the mailbox {mailbox.address} is disconnected"
    return ""


def _full_name(person: Person) -> str:
    return " ".join(p for p in (person.first_name, person.last_name) if p)


def _items(rows: list[tuple[Task, Person, Campaign]]) -> list[TaskItem]:
    return [
        TaskItem(id=t.id, type=t.type.value, title=t.title, due=t.due_date,
                 person_name=_full_name(p), person_email=p.email, company=p.company,
                 campaign=c.name, instructions=t.instructions, has_draft=bool(t.draft_id),
                 due_text=dates.day(t.due_date, year=False))
        for t, p, c in rows
    ]


def task_item(session: Session, task: Task) -> TaskItem:
    enrollment = session.get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    return _items([(task, enrollment.person, enrollment.campaign)])[0]


def _open_tasks(rep: Rep):  # type: ignore[no-untyped-def]
    return (
        select(Task, Person, Campaign)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.rep_id == rep.id, Task.org_id == rep.org_id, Task.status == TaskStatus.OPEN)
    )


def open_tasks_page(session: Session, rep: Rep, page: int) -> tuple[list[TaskItem], int, int]:
    """One page of the rep's open tasks (email tasks first, then by due date), the total, and
    the page actually shown (clamped: a Done on the last item of the last page moves back)."""
    total = session.scalar(
        select(func.count(Task.id)).where(Task.rep_id == rep.id, Task.org_id == rep.org_id,
                                          Task.status == TaskStatus.OPEN)) or 0
    last = max(0, (total - 1) // PAGE_SIZE)
    page = min(max(page, 0), last)
    rows = session.execute(
        _open_tasks(rep).order_by(Task.type != StepType.EMAIL, Task.due_date, Task.id)
        .limit(PAGE_SIZE).offset(page * PAGE_SIZE)
    ).all()
    return _items([(t, p, c) for t, p, c in rows]), total, page


def open_tasks_for_people(session: Session, rep: Rep, person_ids: list[int]) -> list[TaskItem]:
    if not person_ids:
        return []
    rows = session.execute(
        _open_tasks(rep).where(Person.id.in_(person_ids))
        .order_by(Task.type != StepType.EMAIL, Task.due_date, Task.id)
    ).all()
    return _items([(t, p, c) for t, p, c in rows])


def people_items(
    session: Session, rep: Rep, emails: list[str], now: datetime
) -> list[PersonItem]:
    """The addresses that are people of the rep's organisation, with their campaigns (the
    rep's own, or everyone's for an admin) and the rep's open tasks on them."""
    if not emails:
        return []
    people = list(session.scalars(select(Person).where(
        visible_people(rep), Person.email.in_(emails))))
    order = {e: i for i, e in enumerate(emails)}
    people.sort(key=lambda p: order.get(p.email, 0))
    task_rows = open_tasks_for_people(session, rep, [p.id for p in people])
    items = []
    for person in people:
        query = select(Enrollment).where(Enrollment.person_id == person.id,
                                         Enrollment.org_id == rep.org_id)
        if not rep.is_admin:
            query = query.where(Enrollment.rep_id == rep.id)
        found = list(session.scalars(query.order_by(Enrollment.id.desc()).limit(5)))
        items.append(PersonItem(
            email=person.email, name=_full_name(person), company=person.company,
            enrollments=tuple(
                EnrollmentItem(
                    id=en.id, campaign=en.campaign.name, status=en.status.value,
                    steps=tuple(StepLine(s.position, s.day, s.type, s.status, s.reason,
                                         s.send_id) for s in view(session, en, now)))
                for en in found),
            tasks=tuple(t for t in task_rows if t.person_email == person.email),
        ))
    return items


def campaign_choices(session: Session, rep: Rep, candidate: str = "") -> list[CampaignChoice]:
    """The campaigns the rep may add `candidate` (an address) to: not archived, with steps, and
    not one the person is already live in (adding them again would only be refused)."""
    already = set(session.scalars(
        select(Enrollment.campaign_id).join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.org_id == rep.org_id, Person.email == candidate.lower(),
               Enrollment.status.in_(LIVE_ENROLLMENT)))) if candidate else set()
    choices = []
    for c in campaigns_for(session, rep):
        if c.archived or not c.steps or c.id in already:
            continue
        first_email = next((s for s in c.steps if s.type == StepType.EMAIL), None)
        need = "none"
        if first_email is not None and first_email.send_option == SendOption.CHOOSE_AT_LAUNCH:
            need = "required"
        elif first_email is not None and first_email.send_option != SendOption.MANUAL_TASK:
            need = "optional"
        choices.append(CampaignChoice(id=c.id, name=c.name, send_time=need))
    return choices


def template_choices(session: Session, rep: Rep) -> list[TemplateChoice]:
    rows = session.scalars(select(Template).where(visible_templates(rep))
                           .order_by(Template.name, Template.id).limit(50))
    return [TemplateChoice(id=t.id, name=t.name, subject=t.subject) for t in rows]


def campaigns_for_rep(session: Session, rep: Rep) -> list[Campaign]:
    return [c for c in campaigns_for(session, rep) if not c.archived]
