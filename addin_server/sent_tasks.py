"""An email task completes itself when the rep sends it from Gmail.

Gmail does not tell an add-on that the rep pressed Send, so we look in the rep's Sent items:
a sent message is matched to an open email task by, in this order, our header on the task's
draft (`X-Campaign-Send-Id: task-<id>`, when Gmail keeps it), the draft's thread (a sent draft
keeps its thread), or the recipient and subject. The match completes the task and records the
sent message, so that a later "reply to previous" step threads on it and quotes it (the body
as sent when the grant can read bodies; with the connected mailbox's `gmail.metadata` grant it
cannot, and the task's email as we composed it is kept instead).

Call site: the dispatcher tick queues `gmail_sent.sync_job` every SENT_SYNC_SECONDS (one
`sync_all` pass over every rep with open email tasks and a connected Gmail mailbox, on a
worker); `addin-server sync-sent-tasks` runs the same pass by hand. Sent items are read
before the write transaction opens: `complete_sent_tasks` takes what was read, a Session, and
never commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import tasks, templates
from addin_server.enums import StepType, TaskStatus
from addin_server.gmail_drafts import TASK_HEADER_PREFIX
from addin_server.models import Enrollment, Person, Rep, SentMessage, Task


@dataclass(frozen=True)
class SentSummary:
    """A message in the rep's Sent items, as much as matching needs."""

    message_id: str
    thread_id: str
    to: tuple[str, ...]  # lower-case addresses (To and Cc)
    subject: str
    sent_at: datetime
    send_id_header: str = ""
    rfc_message_id: str = ""
    references: str = ""
    html: str | None = None  # the body as sent, when the grant can read bodies


@dataclass(frozen=True)
class OpenEmailTask:
    task_id: int
    to: str
    subject: str | None  # what the task's email says (None: cannot be rendered)
    draft_thread_id: str | None
    since: datetime  # the task's creation: anything sent before is not it


_PREFIX = re.compile(r"^\s*((re|fwd?|tr|aw|wg)\s*:\s*)+", re.IGNORECASE)


def normalise_subject(subject: str) -> str:
    return " ".join(_PREFIX.sub("", subject).split()).casefold()


def _by_header(t: OpenEmailTask, m: SentSummary) -> bool:
    return m.send_id_header.strip() == f"{TASK_HEADER_PREFIX}{t.task_id}"


def _by_thread(t: OpenEmailTask, m: SentSummary) -> bool:
    return bool(t.draft_thread_id) and m.thread_id == t.draft_thread_id and t.to in m.to


def _by_subject(t: OpenEmailTask, m: SentSummary) -> bool:
    return (t.subject is not None and t.to in m.to
            and normalise_subject(m.subject) == normalise_subject(t.subject))


def match_sent(
    open_tasks: Sequence[OpenEmailTask], sent: Sequence[SentSummary]
) -> dict[int, SentSummary]:
    """Task id -> the message that sent it. Each task and each message match at most once;
    the strongest evidence wins first, and the oldest fitting message within each rule."""
    chronological = sorted(sent, key=lambda m: (m.sent_at, m.message_id))
    taken: set[str] = set()
    found: dict[int, SentSummary] = {}
    for rule in (_by_header, _by_thread, _by_subject):
        for t in open_tasks:
            if t.task_id in found:
                continue
            for m in chronological:
                if m.message_id not in taken and m.sent_at >= t.since and rule(t, m):
                    found[t.task_id] = m
                    taken.add(m.message_id)
                    break
    return found


def _composed(session: Session, task: Task, rep: Rep, base_url: str,
              secret_key: str) -> tuple[str | None, str]:
    """The task's email as we would write it: (subject, body)."""
    try:
        content = tasks.compose(session, task, rep, base_url=base_url, secret_key=secret_key)
    except templates.MissingFields:
        return None, ""
    return content.subject, content.body_html


def oldest_open_email_task(session: Session, rep_id: int) -> datetime | None:
    """Where a look at Sent items must start for this rep (None: nothing to look for)."""
    return session.scalar(select(func.min(Task.created_at)).where(
        Task.rep_id == rep_id, Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL))


def complete_sent_tasks(
    session: Session,
    rep: Rep,
    sent: Sequence[SentSummary],
    *,
    mailbox_id: int,
    now: datetime,
    base_url: str,
    secret_key: str,
) -> list[int]:
    """Complete the rep's open email tasks whose email is among `sent` (read from Sent items
    beforehand: no network call here). Returns the ids of the tasks completed. Idempotent: a
    message already recorded is not matched again."""
    rows = session.execute(
        select(Task, Person.email)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Task.rep_id == rep.id, Task.status == TaskStatus.OPEN,
               Task.type == StepType.EMAIL)
    ).all()
    if not rows or not sent:
        return []
    composed = {task.id: _composed(session, task, rep, base_url, secret_key)
                for task, _email in rows}
    candidates = {
        task.id: OpenEmailTask(
            task_id=task.id, to=email, subject=composed[task.id][0],
            draft_thread_id=task.draft_thread_id, since=task.created_at)
        for task, email in rows
    }
    by_id = {task.id: task for task, _email in rows}
    recorded = set(session.scalars(select(SentMessage.provider_message_id).where(
        SentMessage.org_id == rep.org_id,
        SentMessage.provider_message_id.in_([m.message_id for m in sent]))))
    fresh = [m for m in sent if m.message_id not in recorded]
    completed = []
    for task_id, message in match_sent(list(candidates.values()), fresh).items():
        task = by_id[task_id]
        enrollment = session.get(Enrollment, task.enrollment_id)
        assert enrollment is not None
        # Record first: completing the task schedules the next step, which may be a reply
        # that threads on this message.
        tasks.record_sent_email(
            session, enrollment=enrollment, position=task.position, mailbox_id=mailbox_id,
            to_addr=candidates[task_id].to, subject=message.subject,
            body_html=message.html if message.html is not None else composed[task_id][1],
            sent_at=message.sent_at,
            provider_message_id=message.message_id, thread_id=message.thread_id,
            rfc_message_id=message.rfc_message_id or None, references=message.references)
        if tasks.complete_task(session, task, now):
            completed.append(task_id)
    return completed
