"""Email tasks the rep wrote in Gmail or Outlook themselves: find them in the rep's Sent items
and complete them. One pass for both providers.

Neither Gmail nor Outlook tells us that the rep pressed Send, so an email task written in the
mail client (from the Gmail add-on's draft, Outlook's own compose form, or by hand) completes
when the rep clicks Done, or when its message shows up in Sent items.

- `match_sent` is the pure rule (sent messages and open tasks in, pairs out): same recipient,
  sent after the task opened, and the task's subject (or, for a reply or a task written from
  the Gmail add-on's draft, the same conversation).
- `complete_from_sent` records each matched message (a later "reply to previous" threads on
  it) and completes its task.
- `sync_rep` / `sync_all` are the pass: for each rep with open email tasks, read the Sent items
  of each connected Gmail or Microsoft mailbox through the adapter (the SentReader port, no
  transaction open across the network), then match and complete in one transaction.

Call sites: the periodic duty queues the RQ job that runs `sync_all` (workers/sent_items.py);
the Outlook task pane's "sync now" (`POST /outlook/api/sync-sent`) runs `sync_rep` for its rep;
`addin-server sync-sent-tasks` runs `sync_all` by hand.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.campaigns import templates
from addin_server.db import session_scope
from addin_server.enrollments import tasks
from addin_server.enums import MailboxProvider, MailboxStatus, StepType, TaskStatus
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.port import MailboxError, SentItem, SentReader
from addin_server.models import Enrollment, Rep, SentMessage, Task
from addin_server.models import Mailbox as MailboxRow
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

# Our clock and the mailbox server's may disagree by a little.
CLOCK_SKEW = timedelta(minutes=2)
_PROMPT = re.compile(r"\{\{!.*?\}\}", re.S)
_PREFIXES = re.compile(r"\A\s*(?:(?:re|fw|fwd|aw|sv|wg)\s*:\s*)+", re.I)
_SPACES = re.compile(r"\s+")


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
        # The rep sent it by hand: a copy they had also scheduled through us must not go. One
        # being sent right now cannot be stopped; its delivery completes the task.
        with contextlib.suppress(tasks.EmailStillScheduled):
            tasks.complete_task(session, task, now, cancel_send=True)
    return matches


# --- the pass ---------------------------------------------------------------------------------

# The providers whose adapters read Sent items (the local development mailbox does not).
READABLE = (MailboxProvider.GMAIL, MailboxProvider.MICROSOFT)


def oldest_open_email_task(session: Session, rep_id: int) -> datetime | None:
    """Where a look at Sent items must start for this rep (None: nothing to look for)."""
    return session.scalar(select(func.min(Task.created_at)).where(
        Task.rep_id == rep_id, Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL))


def reps_to_sync(session: Session) -> list[int]:
    """Reps with open email tasks and a connected Gmail or Microsoft mailbox."""
    return list(session.scalars(
        select(Task.rep_id).join(MailboxRow, MailboxRow.rep_id == Task.rep_id)
        .where(Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL,
               MailboxRow.provider.in_(READABLE), MailboxRow.status == MailboxStatus.CONNECTED)
        .distinct().order_by(Task.rep_id)))


def _readers(rt: Runtime, rep_id: int) -> tuple[list[tuple[int, SentReader]], datetime | None]:
    """The rep's connected mailboxes whose Sent items can be read (newest first), and since
    when to read them."""
    with session_scope(rt.sessions) as session:
        since = oldest_open_email_task(session, rep_id)
        if since is None:
            return [], None
        rows = session.scalars(select(MailboxRow).where(
            MailboxRow.rep_id == rep_id, MailboxRow.provider.in_(READABLE),
            MailboxRow.status == MailboxStatus.CONNECTED).order_by(MailboxRow.id.desc()))
        readers: list[tuple[int, SentReader]] = []
        for row in rows:
            mailbox = open_mailbox(rt, session, row)
            if isinstance(mailbox, SentReader):  # not an unavailable one (its grant is gone)
                readers.append((row.id, mailbox))
    return readers, since - CLOCK_SKEW


def sync_rep(rt: Runtime, rep_id: int, now: datetime | None = None) -> list[Match]:
    """Complete the rep's open email tasks found in the Sent items of their connected Gmail or
    Microsoft mailboxes; the matches made.

    A provider failure is logged and that mailbox changes nothing (the next pass tries again;
    the send pipeline is what marks a mailbox disconnected).
    """
    readers, since = _readers(rt, rep_id)
    matches: list[Match] = []
    for mailbox_id, reader in readers:
        assert since is not None
        try:
            sent = reader.sent_items(since)
        except MailboxError as exc:
            log.warning("Sent items of mailbox %s not read: %s", mailbox_id, exc)
            continue
        with session_scope(rt.sessions) as session:
            rep = session.get(Rep, rep_id)
            row = session.get(MailboxRow, mailbox_id)
            assert rep is not None and row is not None
            matches += complete_from_sent(session, rep, row, sent, now or rt.now(),
                                          base_url=rt.settings.public_base_url,
                                          secret_key=rt.settings.secret_key)
    return matches


def sync_all(rt: Runtime, now: datetime) -> dict[int, list[int]]:
    """One pass for every rep with open email tasks and a connected Gmail or Microsoft
    mailbox: rep id -> tasks completed. One rep's failing mailbox does not hold back the
    others."""
    with rt.sessions() as session:
        rep_ids = reps_to_sync(session)
    done: dict[int, list[int]] = {}
    for rep_id in rep_ids:
        try:
            done[rep_id] = [m.task_id for m in sync_rep(rt, rep_id, now)]
        except Exception:  # retried at the next pass
            log.exception("sent-task sync failed for rep %s", rep_id)
    return done
