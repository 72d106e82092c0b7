"""Complete email tasks the rep wrote in Outlook, from the rep's Sent Items (Microsoft Graph).

Outlook does not tell the add-in that the rep pressed Send. This job lists the rep's Sent Items
since their oldest open email task and hands them to `sent_matching.complete_from_sent`. It runs
for one rep when the task pane loads or refreshes (`POST /outlook/api/sync-sent`) and for every
rep with open email tasks and a Microsoft mailbox from `addin-server sync-outlook-sent` (run it
every few minutes from cron or a scheduler).

No database transaction stays open over the Graph call: one session reads what is needed and
opens the adapter, a second one records the matches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.db import session_scope
from addin_server.enrollments.sent_items import (
    CLOCK_SKEW,
    Match,
    complete_from_sent,
    sent_items_from_graph,
)
from addin_server.enums import MailboxProvider, MailboxStatus, StepType, TaskStatus
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.port import MailboxError
from addin_server.models import Mailbox as MailboxRow
from addin_server.models import Rep, Task
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Plan:
    mailbox_id: int
    since: datetime


def _plan(session: Session, rep_id: int) -> _Plan | None:
    """What to look for: the rep's connected Microsoft mailbox and the oldest open email task."""
    oldest = session.scalar(select(func.min(Task.created_at)).where(
        Task.rep_id == rep_id, Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL))
    if oldest is None:
        return None
    box_id = session.scalar(
        select(MailboxRow.id).where(MailboxRow.rep_id == rep_id,
                                    MailboxRow.provider == MailboxProvider.MICROSOFT,
                                    MailboxRow.status == MailboxStatus.CONNECTED)
        .order_by(MailboxRow.id.desc()).limit(1))
    if box_id is None:
        return None
    return _Plan(box_id, oldest - CLOCK_SKEW)


def sync_sent_items(rt: Runtime, rep_id: int) -> list[Match]:
    """Complete the rep's open email tasks found in their Sent Items; the matches made.

    A provider failure is logged and nothing changes (the next run tries again; the send
    pipeline is what marks a mailbox disconnected).
    """
    with session_scope(rt.sessions) as session:
        plan = _plan(session, rep_id)
        if plan is None:
            return []
        row = session.get(MailboxRow, plan.mailbox_id)
        assert row is not None
        mailbox = open_mailbox(rt, session, row)
    lister = getattr(mailbox, "recent_sent", None)
    if lister is None:  # not a Graph mailbox
        return []
    try:
        messages = lister(plan.since)
    except MailboxError as exc:
        log.warning("Sent Items of mailbox %s not read: %s", plan.mailbox_id, exc)
        return []
    settings = rt.settings
    with session_scope(rt.sessions) as session:
        rep = session.get(Rep, rep_id)
        row = session.get(MailboxRow, plan.mailbox_id)
        assert rep is not None and row is not None
        return complete_from_sent(session, rep, row, sent_items_from_graph(messages), rt.now(),
                                  base_url=settings.public_base_url,
                                  secret_key=settings.secret_key)


def reps_to_sync(session: Session) -> list[int]:
    """Reps with open email tasks and a connected Microsoft mailbox."""
    return list(session.scalars(
        select(Task.rep_id).join(MailboxRow, MailboxRow.rep_id == Task.rep_id)
        .where(Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL,
               MailboxRow.provider == MailboxProvider.MICROSOFT,
               MailboxRow.status == MailboxStatus.CONNECTED)
        .distinct().order_by(Task.rep_id)))


@click.command("sync-outlook-sent")
@with_appcontext
def sync_outlook_sent_command() -> None:
    """Complete email tasks written in Outlook that are in the reps' Sent Items (one pass)."""
    from flask import current_app

    rt = current_app.extensions["addin"]
    assert isinstance(rt, Runtime)
    with session_scope(rt.sessions) as session:
        rep_ids = reps_to_sync(session)
    done = sum(len(sync_sent_items(rt, rep_id)) for rep_id in rep_ids)
    click.echo(f"{len(rep_ids)} reps checked, {done} email tasks completed from Sent Items")
