"""The local development mailbox's page (`/mailbox`): every message it holds, newest first,
what it "sent" and what arrived in it (DEV_MODE's simulated answers), each openable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.api.serializers import message_json
from addin_server.enums import MailboxProvider
from addin_server.models import LocalMessage, Mailbox, Rep

PAGE = 100


def _mailbox_ids(session: Session, rep: Rep) -> list[int]:
    return list(session.scalars(select(Mailbox.id).where(
        Mailbox.rep_id == rep.id, Mailbox.provider == MailboxProvider.LOCAL)))


def messages(session: Session, rep: Rep, page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the rep's local messages (drafts left out), and how many there are."""
    where = (LocalMessage.mailbox_id.in_(_mailbox_ids(session, rep)),
             LocalMessage.is_draft.is_(False))
    total = session.scalar(select(func.count()).select_from(LocalMessage).where(*where)) or 0
    rows = session.scalars(select(LocalMessage).where(*where).order_by(LocalMessage.id.desc())
                           .limit(PAGE).offset((page - 1) * PAGE))
    return [message_json(r, with_text=False) for r in rows], total


def message(session: Session, rep: Rep, message_id: int) -> dict[str, Any] | None:
    row = session.get(LocalMessage, message_id)
    if row is None or row.mailbox_id not in _mailbox_ids(session, rep):
        return None
    return message_json(row)
