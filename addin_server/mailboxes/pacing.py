"""Per-mailbox pacing: a minimum gap between two emails of one mailbox and a cap per rolling
24 hours (defaults under Gmail's and Exchange Online's sending limits, see config.py).

The dispatcher calls `pace_due_sends` before it promotes due sends: of a mailbox's due sends,
those that may go now stay due; the others get the time of their slot as `due_at` and a reason
("why is this not sent yet"). Their `planned_at` keeps the campaign's time. `slots` is the pure
rule; the rest reads and writes the outbox and never commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from addin_server.db import rowcount
from addin_server.enums import SendState
from addin_server.models import Mailbox, Send
from addin_server.outbox import sendable

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Slot:
    at: datetime
    capped: bool  # pushed by the daily cap (not only by the gap)


def slots(
    now: datetime,
    due: int,
    *,
    sent_in_window: list[datetime],
    in_progress: int,
    daily_cap: int | None,
    min_gap_seconds: int,
) -> list[Slot]:
    """When each of `due` sends (in order) may start: `now` for those that may go now.

    `sent_in_window`: when the mailbox's emails of the last 24 hours went out;
    `in_progress`: sends being handed over or sent right now (they count as sent now).
    """
    gap = timedelta(seconds=max(0, min_gap_seconds))
    window = sorted(sent_in_window) + [now] * in_progress
    t = now
    if gap and window:
        t = max(t, window[-1] + gap)
    out: list[Slot] = []
    for _ in range(due):
        capped = False
        if daily_cap is not None and daily_cap > 0:
            inside = [w for w in window if w > t - DAY]
            over = len(inside) - daily_cap
            if over >= 0:
                # Wait until enough of the window's sends are 24 hours old.
                t, capped = max(t, inside[over] + DAY), True
        out.append(Slot(t, capped))
        window.append(t)
        t = t + gap
    return out


def _reason(mailbox: Mailbox, slot: datetime, capped: bool) -> str:
    when = slot.strftime("%Y-%m-%d %H:%M:%S")
    if capped:
        return (f"daily cap of {mailbox.daily_cap} emails from {mailbox.address} reached: "
                f"next send at {when} UTC")
    return (f"pacing {mailbox.min_gap_seconds} s between emails from {mailbox.address}: "
            f"next send at {when} UTC")


def pace_due_sends(session: Session, now: datetime) -> int:
    """Move the due sends that their mailbox's pace does not allow now to their slot. Returns
    how many were moved."""
    paced = select(Mailbox.id).where(or_(Mailbox.min_gap_seconds > 0,
                                         Mailbox.daily_cap.is_not(None)))
    rows = session.execute(
        select(Send.id, Send.mailbox_id)
        .where(Send.state == SendState.SCHEDULED, Send.due_at <= now, sendable(now),
               Send.mailbox_id.in_(paced.scalar_subquery()))
        .order_by(Send.due_at, Send.id)
    ).all()  # all of them: a row left out here could be promoted in the same tick
    by_mailbox: dict[int, list[int]] = defaultdict(list)
    for send_id, mailbox_id in rows:
        if mailbox_id is not None:  # (always: the query selects paced mailboxes)
            by_mailbox[mailbox_id].append(send_id)
    moved = 0
    for mailbox_id, send_ids in by_mailbox.items():
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        sent = list(session.scalars(
            select(Send.sent_at)
            .where(Send.mailbox_id == mailbox_id, Send.state == SendState.SENT,
                   Send.sent_at > now - DAY)
            .order_by(Send.sent_at)))
        in_progress = session.scalar(
            select(func.count()).select_from(Send)
            .where(Send.mailbox_id == mailbox_id,
                   Send.state.in_((SendState.QUEUED, SendState.SENDING)))) or 0
        times = slots(now, len(send_ids), sent_in_window=[s for s in sent if s is not None],
                      in_progress=in_progress, daily_cap=mailbox.daily_cap,
                      min_gap_seconds=mailbox.min_gap_seconds)
        for send_id, slot in zip(send_ids, times, strict=True):
            if slot.at <= now:
                continue
            moved += rowcount(session.execute(
                update(Send)
                .where(Send.id == send_id, Send.state == SendState.SCHEDULED)
                .values(due_at=slot.at, reason=_reason(mailbox, slot.at, slot.capped),
                        updated_at=now)
                .execution_options(synchronize_session=False)))
    return moved
