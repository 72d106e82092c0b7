"""Attaching a newly authorised mailbox to a rep (the connect flow). Reconnecting, pausing and
disconnecting are the pipeline's (addin_server/mailbox_state.py). Takes a Session and never
commits (the request does)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.models import Mailbox, Rep


def pacing_defaults(settings: Settings, provider: MailboxProvider) -> tuple[int | None, int]:
    """(daily cap, minimum seconds between two sends) for a newly connected mailbox: under
    the provider's documented sending limits (see config.py)."""
    if provider == MailboxProvider.GMAIL:
        return settings.gmail_daily_cap, settings.gmail_min_gap_seconds
    if provider == MailboxProvider.MICROSOFT:
        return settings.microsoft_daily_cap, settings.microsoft_min_gap_seconds
    return None, 0


def attach_mailbox(
    session: Session, settings: Settings, rep: Rep, provider: MailboxProvider, address: str,
    now: datetime,
) -> Mailbox:
    """The rep's row for this provider and address, made if new (with pacing defaults). The
    caller then stores the grant on it and calls mailbox_state.reconnect_mailbox."""
    address = address.strip().lower()
    row = session.scalar(select(Mailbox).where(
        Mailbox.rep_id == rep.id, Mailbox.provider == provider, Mailbox.address == address))
    if row is None:
        cap, gap = pacing_defaults(settings, provider)
        row = Mailbox(rep_id=rep.id, provider=provider, address=address,
                      status=MailboxStatus.CONNECTED, daily_cap=cap, min_gap_seconds=gap,
                      created_at=now, updated_at=now)
        if settings.ramp_step > 0 and provider != MailboxProvider.LOCAL:
            # A new mailbox starts low and grows (sending/pacing.py reads it).
            row.ramp_start = now.date()
            row.ramp_first, row.ramp_step = settings.ramp_first_cap, settings.ramp_step
        session.add(row)
        session.flush()
    return row
