"""Email tasks written in Outlook: find them in the rep's Sent Items and complete them.

Outlook never tells an add-in that the rep pressed Send, so an email task written in Outlook's
own compose form completes when the rep clicks Done, or when the message shows up in Sent Items.
`match_sent` is the pure rule (messages and open tasks in, pairs out); `complete_from_sent` is
the use case that records each matched message (a later "reply to previous" threads on it) and
completes its task.

Call sites: addin_server/outlook_sync.py lists the rep's recent Sent Items through the Graph
adapter (`GraphMailbox.recent_sent`), reads them with `sent_items_from_graph`, and calls
`complete_from_sent`, one transaction per rep; addin_server/gmail_sent.py does the same for
Gmail (email tasks written from the Gmail add-on's drafts or by hand in Gmail).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.campaigns import templates
from addin_server.enrollments import tasks
from addin_server.enums import StepType, TaskStatus
from addin_server.models import Enrollment, Rep, SentMessage, Task
from addin_server.models import Mailbox as MailboxRow

# Our clock and the mailbox server's may disagree by a little.
CLOCK_SKEW = timedelta(minutes=2)
_PROMPT = re.compile(r"\{\{!.*?\}\}", re.S)
_PREFIXES = re.compile(r"\A\s*(?:(?:re|fw|fwd|aw|sv|wg)\s*:\s*)+", re.I)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SentItem:
    """A message from the rep's Sent Items, provider-neutral."""

    message_id: str  # provider id (Graph message id)
    to: tuple[str, ...]
    subject: str
    sent_at: datetime
    thread_id: str | None = None  # Graph conversationId
    rfc_message_id: str | None = None  # internetMessageId, with angle brackets
    body_html: str = ""


@dataclass(frozen=True)
class OpenEmailTask:
    """What an open email task's message should look like."""

    task_id: int
    to: str
    subject: str  # as composed; `{{! prompts }}` stand for whatever the rep wrote there
    opened_at: datetime  # a message sent before the task existed is not its message
    thread_id: str | None = None  # a reply task: the conversation of the email it answers


@dataclass(frozen=True)
class Match:
    task_id: int
    message: SentItem


def sent_items_from_graph(messages: Sequence[dict[str, Any]]) -> list[SentItem]:
    """Graph `message` resources (as listed from Sent Items) as SentItems; a message without a
    sent time or an id (a draft) is left out."""
    items = []
    for m in messages:
        when, mid = m.get("sentDateTime"), m.get("id")
        if not isinstance(when, str) or not isinstance(mid, str):
            continue
        to = tuple(
            str(r["emailAddress"]["address"]) for r in m.get("toRecipients") or []
            if isinstance(r, dict) and (r.get("emailAddress") or {}).get("address")
        )
        body = m.get("body") or {}
        items.append(SentItem(
            message_id=mid, to=to, subject=str(m.get("subject") or ""),
            sent_at=datetime.fromisoformat(when.replace("Z", "+00:00")),
            thread_id=m.get("conversationId"), rfc_message_id=m.get("internetMessageId"),
            body_html=str(body.get("content") or "") if body.get("contentType", "").lower()
            == "html" else "",
        ))
    return items


def _normal(subject: str) -> str:
    return _SPACES.sub(" ", _PREFIXES.sub("", subject)).strip().casefold()


def subject_pattern(expected: str) -> re.Pattern[str]:
    """A pattern for sent subjects that fit `expected`: case, spacing and Re:/Fw: prefixes do
    not matter, and each prompt matches any text."""
    pieces = _PROMPT.split(_PREFIXES.sub("", expected).strip())
    escaped = [_SPACES.sub(" ", p).casefold() for p in pieces]
    body = ".+?".join(re.escape(p).replace(r"\ ", r"\s+") for p in escaped)
    return re.compile(r"\s*" + body.strip() + r"\s*", re.S)


def _fits(task: OpenEmailTask, item: SentItem, pattern: re.Pattern[str]) -> bool:
    if task.to.casefold() not in {a.strip().casefold() for a in item.to}:
        return False
    if item.sent_at < task.opened_at - CLOCK_SKEW:
        return False
    if task.thread_id is not None and item.thread_id == task.thread_id:
        return True
    return pattern.fullmatch(_normal(item.subject)) is not None


def match_sent(sent: Sequence[SentItem], open_tasks: Sequence[OpenEmailTask]) -> list[Match]:
    """Pair sent messages with open email tasks: same recipient, sent after the task opened,
    and the task's subject (or, for a reply, the same conversation).

    Each message completes at most one task and each task takes at most one message: the task
    opened first takes the earliest message that fits it.
    """
    by_time = sorted(sent, key=lambda m: (m.sent_at, m.message_id))
    used: set[str] = set()
    matches: list[Match] = []
    for task in sorted(open_tasks, key=lambda t: (t.opened_at, t.task_id)):
        pattern = subject_pattern(task.subject)
        for item in by_time:
            if item.message_id not in used and _fits(task, item, pattern):
                used.add(item.message_id)
                matches.append(Match(task.task_id, item))
                break
    return matches


def _expected(
    session: Session, task: Task, rep: Rep, *, base_url: str, secret_key: str
) -> tuple[OpenEmailTask, tasks.EmailContent] | None:
    try:
        content = tasks.compose(session, task, rep, base_url=base_url, secret_key=secret_key)
    except (templates.MissingFields, ValueError):
        return None  # the rep cannot have sent it from our compose either; Done still works
    # The conversation the message will be in: the Gmail draft the add-on made for the task
    # (a sent draft keeps its thread, whatever the rep changed), else the one a reply answers.
    thread = task.draft_thread_id or (
        content.reply.thread_id if content.reply is not None else None)
    return OpenEmailTask(task.id, content.to, content.subject, task.created_at, thread), content


def complete_from_sent(
    session: Session,
    rep: Rep,
    mailbox: MailboxRow,
    sent: Sequence[SentItem],
    now: datetime,
    *,
    base_url: str,
    secret_key: str,
) -> list[Match]:
    """Complete the rep's open email tasks whose message is in `sent`, recording each message.

    Safe to run again on the same messages: a recorded message and a completed task are left
    as they are. Never commits.
    """
    open_tasks = session.scalars(
        select(Task).where(Task.rep_id == rep.id, Task.status == TaskStatus.OPEN,
                           Task.type == StepType.EMAIL).order_by(Task.id)
    ).all()
    expected: dict[int, tuple[Task, tasks.EmailContent]] = {}
    wanted: list[OpenEmailTask] = []
    for task in open_tasks:
        found = _expected(session, task, rep, base_url=base_url, secret_key=secret_key)
        if found is not None:
            wanted.append(found[0])
            expected[task.id] = (task, found[1])
    # A message already recorded (an earlier step's email) never completes another task: the
    # next step's reply task is in that message's conversation and opened right after it.
    ids = [m.message_id for m in sent]
    recorded = set(session.scalars(select(SentMessage.provider_message_id).where(
        SentMessage.org_id == rep.org_id, SentMessage.provider_message_id.in_(ids)))) \
        if ids else set()
    matches = match_sent([m for m in sent if m.message_id not in recorded], wanted)
    for match in matches:
        task, content = expected[match.task_id]
        enrollment = session.get(Enrollment, task.enrollment_id)
        assert enrollment is not None
        chain = ""
        if content.reply is not None:
            chain = " ".join(x for x in (content.reply.references,
                                         content.reply.rfc_message_id) if x)
        message = match.message
        tasks.record_sent_email(
            session, enrollment=enrollment, position=task.position, mailbox_id=mailbox.id,
            to_addr=content.to, subject=message.subject,
            body_html=message.body_html or content.body_html, sent_at=message.sent_at,
            provider_message_id=message.message_id, thread_id=message.thread_id,
            rfc_message_id=message.rfc_message_id, references=chain,
        )
        tasks.complete_task(session, task, now)
    return matches
