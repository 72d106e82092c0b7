"""Each mailbox's health: sent today and in 7 days against its cap, bounce and reply rates,
how long it has been paused or disconnected.

Counts run on indexes: sends by (mailbox_id, state, sent_at) and sent emails by (mailbox_id,
sent_at); both ranges are bounded by the mailbox's own recent volume, not the organisation's.
Days are the rep's local days, as the daily cap counts them (sending/pacing.py).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from addin_server.enums import MailboxStatus, SendState
from addin_server.models import Mailbox, Rep, Send, SentMessage
from addin_server.reports.campaign import rate

RATE_DAYS = 30  # reply and bounce rates are over the emails of the last 30 days


def _since(now: datetime, tz: ZoneInfo, days_back: int) -> datetime:
    day = now.astimezone(tz).date() - timedelta(days=days_back)
    return datetime.combine(day, time(0), tz)


def mailbox_row(session: Session, mailbox: Mailbox, rep: Rep, now: datetime) -> dict[str, Any]:
    tz = ZoneInfo(rep.timezone or "UTC")

    def sent_since(start: datetime) -> int:
        return session.scalar(select(func.count()).select_from(Send).where(
            Send.mailbox_id == mailbox.id, Send.state == SendState.SENT,
            Send.sent_at >= start)) or 0

    today, week = sent_since(_since(now, tz, 0)), sent_since(_since(now, tz, 6))
    emails, replied, bounced = session.execute(
        # A reply to an email that later bounced counts as a bounce only (tallies.py).
        select(func.count(), func.sum(case((and_(SentMessage.replied_at.is_not(None),
                                                 SentMessage.bounced_at.is_(None)), 1),
                                           else_=0)),
               func.count(SentMessage.bounced_at))
        .where(SentMessage.mailbox_id == mailbox.id,
               SentMessage.sent_at >= now - timedelta(days=RATE_DAYS))).one()
    paused = mailbox.paused_until is not None and mailbox.paused_until > now
    disconnected = mailbox.status == MailboxStatus.DISCONNECTED
    cap = mailbox.daily_cap
    replied = int(replied or 0)
    return {
        "id": mailbox.id, "address": mailbox.address, "provider": mailbox.provider.value,
        "rep_id": rep.id, "rep_email": rep.email, "status": mailbox.status.value,
        "sent_today": today, "daily_cap": cap,
        "cap_used_today": rate(today, cap) if cap else None,
        "sent_7_days": week, "cap_7_days": cap * 7 if cap else None,
        "emails_30_days": int(emails), "replied_30_days": int(replied),
        "bounced_30_days": int(bounced),
        "reply_rate": rate(int(replied), int(emails)),
        "bounce_rate": rate(int(bounced), int(emails)),
        "paused_until": mailbox.paused_until.isoformat() if paused and mailbox.paused_until
        else None,
        "paused_seconds_left": int((mailbox.paused_until - now).total_seconds())
        if paused and mailbox.paused_until else 0,
        "disconnected_since": mailbox.disconnected_at.isoformat()
        if disconnected and mailbox.disconnected_at else None,
        "disconnected_seconds": int((now - mailbox.disconnected_at).total_seconds())
        if disconnected and mailbox.disconnected_at else 0,
        "reason": mailbox.status_reason if paused or disconnected else "",
    }


def mailbox_report(session: Session, org_id: int, rep_id: int | None,
                   now: datetime) -> list[dict[str, Any]]:
    """Every mailbox of the organisation (`rep_id` None, for admins) or of one rep."""
    query = (select(Mailbox, Rep).join(Rep, Rep.id == Mailbox.rep_id)
             .where(Rep.org_id == org_id).order_by(Rep.email, Mailbox.address))
    if rep_id is not None:
        query = query.where(Mailbox.rep_id == rep_id)
    return [mailbox_row(session, m, r, now) for m, r in session.execute(query)]
