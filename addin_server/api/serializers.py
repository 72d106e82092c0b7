"""The JSON shapes of our records, one function per kind.

The REST API answers with them, and so do the web pages and the add-ins where they show the
same record, so that a campaign or an enrollment reads alike wherever it appears. Domain
modules do not build JSON.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any

from addin_server.accounts import may_manage_template
from addin_server.campaigns.settings import BOOL_KEYS, flag
from addin_server.enrollments.status import campaign_breaker_reason, mailbox_reason, view
from addin_server.enums import SendState
from addin_server.guard.absence import absence_reason
from addin_server.models import (
    BlockedDomain,
    Campaign,
    Enrollment,
    Event,
    LocalMessage,
    Mailbox,
    Person,
    Rep,
    Send,
    Step,
    Suppression,
    Task,
    Template,
)
from addin_server.web.common import db, iso, now

# --- campaigns and templates ------------------------------------------------------------------


def settings_json(extra: dict[str, Any] | None) -> dict[str, Any]:
    """The campaign settings kept in `extra_settings`, each with its default when unset."""
    extra = extra or {}
    return {
        **{key: flag(extra, key) for key in BOOL_KEYS},
        "sending_window": extra.get("sending_window"),
        "holiday_countries": extra.get("holiday_countries", []),
    }


def step_json(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "position": step.position,
        "day": step.day,
        "type": step.type.value,
        "send_option": step.send_option.value if step.send_option else None,
        "send_time": step.send_time,
        "reply_to_previous": step.reply_to_previous,
        "subject": step.subject,
        "body_html": step.body_html,
        "template_id": step.template_id,
        "instructions": step.instructions,
        "cc": list(step.cc or []),
        "bcc": list(step.bcc or []),
    }


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "timezone": campaign.timezone,
        "owner_id": campaign.rep_id,
        "archived": bool(campaign.archived),
        "settings": {
            "skip_weekends": campaign.skip_weekends,
            "stop_on_reply": campaign.stop_on_reply,
            "mark_success_on_reply": campaign.mark_success_on_reply,
            "remove_on_bounce": campaign.remove_on_bounce,
            "use_recipient_timezone": campaign.use_recipient_timezone,
            **settings_json(campaign.extra_settings),
        },
        "steps": [step_json(s) for s in campaign.steps],
        "breaker": breaker_json(campaign),
    }


def template_json(t: Template, viewer: Rep | None = None) -> dict[str, Any]:
    """A template; `can_manage` says whether `viewer` may change, share or delete it."""
    return {"id": t.id, "name": t.name, "subject": t.subject, "body_html": t.body_html,
            "shared": bool(t.shared), "owner_id": t.rep_id, "owner": t.owner.email,
            "updated_at": iso(t.updated_at),
            "can_manage": viewer is not None and may_manage_template(viewer, t)}


# --- people, enrollments, tasks ---------------------------------------------------------------


def person_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "company": person.company,
        "title": person.title,
        "timezone": person.timezone,
        "fields": person.fields or {},
        "unsubscribed": person.unsubscribed_at is not None,
    }


def steps_json(enrollment: Enrollment) -> list[dict[str, Any]]:
    """Every step's state, time and reason (enrollments/status.py), as of the request's now."""
    return [
        {
            "position": s.position,
            "day": s.day,
            "type": s.type,
            "send_option": s.send_option,
            "status": s.status,
            "due_at": iso(s.due_at),
            "due_date": s.due_date.isoformat() if s.due_date else None,
            "reason": s.reason,
            "send_id": s.send_id,
            "task_id": s.task_id,
        }
        for s in view(db(), enrollment, now())
    ]


def enrollment_json(enrollment: Enrollment) -> dict[str, Any]:
    """The enrollment with every step's state, time and reason, as of the request's now."""
    return {
        "id": enrollment.id,
        "campaign_id": enrollment.campaign_id,
        "status": enrollment.status.value,
        "start_date": enrollment.start_date.isoformat(),
        "stop_reason": enrollment.stop_reason,
        "person": person_json(enrollment.person),
        "steps": steps_json(enrollment),
    }


def task_json(task: Task, person: Person, campaign: Campaign) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type.value,
        "status": task.status.value,
        "title": task.title,
        "instructions": task.instructions,
        "due_date": task.due_date.isoformat(),
        "enrollment_id": task.enrollment_id,
        "position": task.position,
        "call_outcome": task.call_outcome,
        "note": task.note,
        "campaign": {"id": campaign.id, "name": campaign.name},
        "person": {"id": person.id, "email": person.email, "first_name": person.first_name,
                   "last_name": person.last_name, "company": person.company},
    }


# --- sends and the local development mailbox --------------------------------------------------


def send_json(send: Send, person: Person | None = None) -> dict[str, Any]:
    """A send; one still waiting says why (the mailbox's state, or its due time)."""
    mailbox = db().get(Mailbox, send.mailbox_id) if send.mailbox_id else None
    reason = send.reason
    if send.state in (SendState.SCHEDULED, SendState.QUEUED):
        # What holds it now: a mailbox that cannot send outranks an earlier pacing reason,
        # and so does a tripped campaign breaker.
        enrollment = db().get(Enrollment, send.enrollment_id)
        reason = mailbox_reason(mailbox, now()) or (
            enrollment and campaign_breaker_reason(db(), enrollment)) or reason or (
            "due now: waiting for a worker" if send.due_at <= now() else "scheduled")
    body: dict[str, Any] = {
        "id": send.id, "state": send.state.value, "due_at": iso(send.due_at),
        "planned_at": iso(send.planned_at), "reason": reason, "attempts": send.attempts,
        "lease_until": iso(send.lease_until), "enrollment_id": send.enrollment_id,
        "position": send.position, "task_id": send.task_id, "mailbox_id": send.mailbox_id,
        "to": send.to_addr or None, "subject": send.subject or None, "sent_at": iso(send.sent_at),
        "message_id": send.rfc_message_id, "provider_message_id": send.provider_message_id,
        "thread_id": send.thread_id, "cc": list(send.cc or []), "bcc": list(send.bcc or []),
    }
    if person is not None:
        body["person"] = {"id": person.id, "email": person.email}
    return body


def message_json(row: LocalMessage, *, with_text: bool = True) -> dict[str, object]:
    """A local message for the API: its headers and its text part."""
    parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
    headers = {name: str(parsed[name]) for name in (
        "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "X-Campaign-Send-Id", "Auto-Submitted", "Content-Type") if parsed[name] is not None}
    body: dict[str, object] = {
        "id": row.id,
        "draft": row.is_draft,
        "inbound": row.inbound,
        "thread_id": row.thread_id,
        "message_id": row.rfc_message_id,
        "send_id": row.send_id or None,
        "to": row.to_addr,
        "subject": row.subject,
        "created_at": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sent_at": row.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.sent_at else None,
        "headers": headers,
    }
    if with_text:
        part = parsed.get_body(preferencelist=("plain",))
        body["text"] = part.get_content() if part is not None else ""
    return body


# --- the Live Feed --------------------------------------------------------------------------


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "at": event.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key in ("campaign_id", "enrollment_id", "person_id", "task_id", "send_id"):
        value = getattr(event, key)
        if value is not None:
            body[key] = value
    body.update(event.data or {})
    return body


# --- suppressions and mailbox limits ----------------------------------------------------------


def suppression_json(row: Suppression) -> dict[str, Any]:
    return {"email": row.email, "reason": row.reason, "note": row.note,
            "created_at": iso(row.created_at),
            "created_by": row.creator.email if row.creator else None}


def domain_json(row: BlockedDomain) -> dict[str, Any]:
    return {"domain": row.domain, "note": row.note, "created_at": iso(row.created_at),
            "created_by": row.creator.email if row.creator else None}


def breaker_json(obj: Mailbox | Campaign) -> dict[str, Any] | None:
    """A tripped bounce breaker (guard/breakers.py), or None."""
    if not obj.guard_reason:
        return None
    return {"reason": obj.guard_reason,
            "scope": obj.guard_scope if isinstance(obj, Mailbox) else "campaign",
            "tripped_at": iso(obj.guard_tripped_at)}


def absence_json(box: Mailbox) -> dict[str, Any]:
    """The rep's vacation responder as last read (guard/absence.py)."""
    return {"on": box.away_on, "start": iso(box.away_start), "end": iso(box.away_end),
            "holds": absence_reason(box, now()) is not None,
            "checked_at": iso(box.away_checked_at), "error": box.away_error}


def limits_json(box: Mailbox) -> dict[str, Any]:
    return {"id": box.id, "address": box.address, "daily_cap": box.daily_cap,
            "min_gap_seconds": box.min_gap_seconds, "batch_size": box.batch_size,
            "batch_wait_seconds": box.batch_wait_seconds, "breaker": breaker_json(box),
            "absence": absence_json(box)}
