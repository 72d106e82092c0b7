"""Email the rep and the organisation's admins when a bounce breaker trips, through the
operator's SMTP relay (SMTP_URL; off without it). Once per trip: `guard_notified_at` is claimed
with a conditional UPDATE, so two dispatchers do not both send it, and cleared again when the
relay fails so that the next tick tries again. A dispatcher duty (workers/duties.py).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import cast

from sqlalchemy import select, update

from addin_server.config import Settings
from addin_server.db import rowcount, session_scope
from addin_server.mailboxes.notify import send_smtp
from addin_server.models import Campaign, Mailbox, Rep
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)


def _recipients(session_reps: list[Rep], owner: Rep) -> list[str]:
    return sorted({owner.email, *(r.email for r in session_reps if r.is_admin)})


def breaker_email(settings: Settings, to: list[str], what: str, reason: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"Paused to protect deliverability: {what}"
    msg.set_content(
        f"The automatic emails of {what} are paused: {reason}.\n\n"
        "They wait (nothing is lost). Deal with the cause (check the list it was sending to, "
        "or as the reason says), then release it on the Mailboxes page:\n\n"
        f"  {settings.public_base_url}/mailboxes\n")
    return msg


def _claim(rt: Runtime, model: type[Mailbox] | type[Campaign], row_id: int, now: datetime
           ) -> EmailMessage | None:
    """Claim the row's notice and write it; None when another party claimed it."""
    with session_scope(rt.sessions) as session:
        claimed = rowcount(session.execute(
            update(model).where(model.id == row_id, model.guard_notified_at.is_(None),
                                model.guard_reason != "").values(guard_notified_at=now)))
        row = cast("Mailbox | Campaign | None", session.get(model, row_id))
        if not claimed or row is None:
            return None
        owner = session.get(Rep, row.rep_id)
        assert owner is not None
        reps = list(session.scalars(select(Rep).where(Rep.org_id == owner.org_id,
                                                      Rep.is_admin.is_(True))))
        what = (f"mailbox {row.address}" if isinstance(row, Mailbox)
                else f"campaign {row.name!r}")
        return breaker_email(rt.settings, _recipients(reps, owner), what, row.guard_reason)


def notify_breakers(rt: Runtime, now: datetime) -> int:
    """Email about every breaker that tripped and nobody was told of. Returns how many."""
    if not rt.settings.smtp_url or not rt.settings.mail_from:
        return 0
    todo: list[tuple[type[Mailbox] | type[Campaign], int]] = []
    with rt.sessions() as session:
        for model in (Mailbox, Campaign):
            todo += [(model, i) for i in session.scalars(select(model.id).where(
                model.guard_reason != "", model.guard_notified_at.is_(None)))]
    told = 0
    for model, row_id in todo:
        message = _claim(rt, model, row_id, now)
        if message is None:
            continue
        try:
            send_smtp(rt.settings, message)
            told += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("could not email about the breaker of %s %s: %s", model.__name__,
                        row_id, exc)
            with session_scope(rt.sessions) as session:
                session.execute(update(model).where(
                    model.id == row_id, model.guard_notified_at == now)
                    .values(guard_notified_at=None))
    return told
