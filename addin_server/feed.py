"""The Live Feed: events recorded in the same transaction as the change they describe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from addin_server.models import Event

# Event types, so that every writer and reader spells them alike.
CAMPAIGN_LAUNCHED = "campaign_launched"
EMAIL_SCHEDULED = "email_scheduled"
TASK_CREATED = "task_created"
TASK_DUE = "task_due"
TASK_COMPLETED = "task_completed"
TASK_SKIPPED = "task_skipped"
ENROLLMENT_PAUSED = "enrollment_paused"
ENROLLMENT_RESUMED = "enrollment_resumed"
ENROLLMENT_STOPPED = "enrollment_stopped"
ENROLLMENT_FINISHED = "enrollment_finished"
EMAIL_SENT = "email_sent"
EMAIL_FAILED = "email_failed"
EMAIL_HELD = "email_held"
MAILBOX_DISCONNECTED = "mailbox_disconnected"
MAILBOX_RECONNECTED = "mailbox_reconnected"
MAILBOX_PAUSED = "mailbox_paused"
REPLIED = "replied"
BOUNCED = "bounced"
UNSUBSCRIBED = "unsubscribed"
CRM_CONNECTED = "crm_connected"
CRM_DISCONNECTED = "crm_disconnected"
# Replies, bounces, automatic replies (issue 9)
AUTO_REPLY = "auto_reply"
OUT_OF_OFFICE = "out_of_office"
# Deliverability guard (issue 18)
BREAKER_TRIPPED = "breaker_tripped"
BREAKER_RELEASED = "breaker_released"
DOMAIN_FLAGGED = "domain_flagged"
BOUNCE_HELD = "bounce_held"
BOUNCES_RELEASED = "bounces_released"
BULK_WARNING = "bulk_meter_warning"  # a primary domain passed 70% of the bulk-sender line
BULK_LINE = "bulk_meter_line"  # ... and reached it
REP_AWAY = "rep_away"  # the rep's vacation responder is on (guard/absence.py)
REP_BACK = "rep_back"


def record(
    session: Session,
    *,
    org_id: int,
    type: str,
    at: datetime,
    rep_id: int | None = None,
    campaign_id: int | None = None,
    enrollment_id: int | None = None,
    person_id: int | None = None,
    task_id: int | None = None,
    send_id: int | None = None,
    **data: Any,
) -> Event:
    event = Event(
        org_id=org_id,
        rep_id=rep_id,
        type=type,
        at=at,
        campaign_id=campaign_id,
        enrollment_id=enrollment_id,
        person_id=person_id,
        task_id=task_id,
        send_id=send_id,
        data=data,
    )
    session.add(event)
    return event


def record_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk form of `record` for launches: each row holds Event's columns."""
    if rows:
        session.execute(insert(Event), list(rows))


def list_events(
    session: Session, *, org_id: int, rep_id: int | None, after: int = 0, limit: int = 100
) -> list[Event]:
    """Events after an id, oldest first; `rep_id` None means the whole organisation (admins)."""
    query = select(Event).where(Event.org_id == org_id, Event.id > after)
    if rep_id is not None:
        query = query.where(Event.rep_id == rep_id)
    return list(session.scalars(query.order_by(Event.id).limit(limit)))
