"""An email task sent from our compose window: the rep's text becomes a row in the outbox.

The row is keyed by (enrollment, position) like every send, so a double click, a retried request
or two tabs make one send. The pipeline sends it like any other; when it has gone out, the task
is completed and the person moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from addin_server.campaigns import templates
from addin_server.campaigns.rendering import merge_values
from addin_server.db import rowcount
from addin_server.enrollments.advance import advance, rep_mailbox
from addin_server.enrollments.lifecycle import cancel_pending
from addin_server.enums import PENDING_SEND, SendState, StepType, TaskStatus
from addin_server.mailboxes.port import MAX_ATTACHMENTS_BYTES, MAX_ATTACHMENTS_MB
from addin_server.models import Attachment, Enrollment, Rep, Send, Task
from addin_server.sending.outbox import log
from addin_server.validation import FieldError, ValidationFailed


class TaskNotSendable(Exception):
    """The task is not an open email task."""


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    body_html: str
    send_at: datetime | None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    attachment_ids: tuple[int, ...] = ()  # uploaded by the rep beforehand (api/attachments)


def claim_attachments(session: Session, rep: Rep, ids: tuple[int, ...], send_id: int | None
                      ) -> list[Attachment]:
    """The rep's uploaded files for one email: their own, not on another email, together
    within MAX_ATTACHMENTS_BYTES. Raises ValidationFailed naming `attachment_ids[i]`."""
    errors: list[FieldError] = []
    found: list[Attachment] = []
    for i, attachment_id in enumerate(ids):
        row = session.get(Attachment, attachment_id)
        if row is None or row.org_id != rep.org_id or row.rep_id != rep.id:
            errors.append(FieldError(f"attachment_ids[{i}]", "no such attachment"))
        elif row.send_id is not None and row.send_id != send_id:
            errors.append(FieldError(f"attachment_ids[{i}]", "is attached to another email"))
        elif row not in found:
            found.append(row)
    total = sum(a.size for a in found)
    if total > MAX_ATTACHMENTS_BYTES:
        errors.append(FieldError("attachment_ids", f"the attachments add up to {total} bytes; "
                                 f"at most {MAX_ATTACHMENTS_MB} MB"))
    if errors:
        raise ValidationFailed(errors)
    return found


def render_composed(
    email: ComposedEmail, enrollment: Enrollment, rep: Rep, *, base_url: str, secret_key: str
) -> tuple[str, str]:
    """Fill any merge fields left in the rep's text. Raises ValidationFailed naming the field
    when a prompt is left, a template is malformed or a field has no value."""
    values = merge_values(enrollment.person, rep, base_url=base_url, secret_key=secret_key)
    errors: list[FieldError] = []
    rendered: dict[str, str] = {}
    for name, text, html in (("subject", email.subject, False),
                             ("body_html", email.body_html, True)):
        prompts = templates.find_prompts(text)
        if prompts:
            errors.append(FieldError(name, "replace the prompts before sending: "
                                     + "; ".join(prompts)))
            continue
        problems = templates.check_template(text, allow_prompts=False)
        if problems:
            errors.extend(FieldError(name, p.message) for p in problems)
            continue
        try:
            rendered[name] = templates.render(text, values, html=html, keep_prompts=False)
        except templates.MissingFields as exc:
            errors.append(FieldError(name, "no value for: " + ", ".join(exc.names)))
    if errors:
        raise ValidationFailed(errors)
    return rendered["subject"], templates.sanitize_html(rendered["body_html"])


def send_task_email(
    session: Session, task: Task, email: ComposedEmail, now: datetime, *, base_url: str,
    secret_key: str,
) -> tuple[Send, bool]:
    """Put the rep's email for this task in the outbox. Returns (send, created); an existing
    send for the task is returned unchanged unless it failed or was held (then it is
    rescheduled with the new text)."""
    if task.type != StepType.EMAIL or task.status != TaskStatus.OPEN:
        raise TaskNotSendable(f"the task is a {task.type.value} task, {task.status.value}")
    enrollment = session.get(Enrollment, task.enrollment_id)
    rep = session.get(Rep, task.rep_id)
    assert enrollment is not None and rep is not None
    subject, body = render_composed(email, enrollment, rep, base_url=base_url,
                                    secret_key=secret_key)
    due = max(email.send_at or now, now).astimezone(UTC)
    existing = _existing(session, task)
    files = claim_attachments(session, rep, email.attachment_ids,
                              existing.id if existing is not None else None)
    if existing is not None:
        if existing.state in RETRYABLE:
            # Sent again: with the files chosen now; the others go back to the rep's uploads.
            for row in session.scalars(select(Attachment).where(
                    Attachment.send_id == existing.id)):
                if row not in files:
                    row.send_id = None
            _link(files, existing.id)
        return _retry_existing(session, existing, email, subject, body, due, now), False
    mailbox = rep_mailbox(session, task.rep_id)
    send = Send(org_id=task.org_id, enrollment_id=task.enrollment_id, rep_id=task.rep_id,
                position=task.position,
                mailbox_id=mailbox.id if mailbox else None, task_id=task.id,
                state=SendState.SCHEDULED, planned_at=None, due_at=due,
                to_addr=enrollment.person.email, cc=list(email.cc), bcc=list(email.bcc),
                subject=subject, body_html=body, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(send)
            session.flush()
            _link(files, send.id)
            session.flush()
    except IntegrityError:
        # Another request for the same task won the race: that one is the send.
        existing = _existing(session, task)
        assert existing is not None
        return existing, False
    log(session, send.id, "", SendState.SCHEDULED.value, now, "sent from the compose window")
    return send, True


# Uploaded files on no email are dropped after this long; those of an email that went out (it is
# in the rep's Sent items, attachments included), after this long from its sending.
UNUSED_UPLOAD_DAYS = 7
SENT_ATTACHMENT_DAYS = 7


def forget_attachments(session: Session, now: datetime) -> int:
    """Delete the bytes no send can need any more: uploads never put on an email, and the
    files of emails sent a while ago (a send not yet sent keeps them: a retry or a
    reconciliation may still need them)."""
    unused = rowcount(session.execute(delete(Attachment).where(
        Attachment.send_id.is_(None),
        Attachment.created_at < now - timedelta(days=UNUSED_UPLOAD_DAYS))))
    sent = select(Send.id).where(Send.state == SendState.SENT,
                                 Send.sent_at < now - timedelta(days=SENT_ATTACHMENT_DAYS))
    done = rowcount(session.execute(delete(Attachment).where(Attachment.send_id.in_(sent))))
    return unused + done


def _link(files: list[Attachment], send_id: int) -> None:
    for row in files:
        row.send_id = send_id


def _existing(session: Session, task: Task) -> Send | None:
    return session.scalar(select(Send).where(Send.enrollment_id == task.enrollment_id,
                                             Send.position == task.position))


RETRYABLE = (SendState.FAILED, SendState.HELD, SendState.CANCELLED)


def _retry_existing(session: Session, send: Send, email: ComposedEmail, subject: str,
                    body: str, due: datetime, now: datetime) -> Send:
    if send.state not in RETRYABLE:
        return send  # (cancelled: by the rep from the email's page; the task is still open)
    log(session, send.id, send.state.value, SendState.SCHEDULED.value, now,
        "sent again from the compose window")
    send.state = SendState.SCHEDULED
    send.subject, send.body_html, send.due_at = subject, body, due
    send.cc, send.bcc = list(email.cc), list(email.bcc)
    send.reason, send.draft_id, send.updated_at = "", None, now
    return send


# --- a send opened after it was scheduled: change or cancel it until it is claimed ----------

EDITABLE = (SendState.SCHEDULED, SendState.HELD)
CANCEL_REASON = "cancelled by the rep"


class SendNotEditable(Exception):
    """The send has been claimed (queued, sending) or has an outcome (sent, failed, ...)."""


def edit_send(session: Session, send: Send, *, send_at: datetime | None,
              text: tuple[str, str] | None, now: datetime) -> Send:
    """Reschedule a send and, for one the rep wrote, change its subject and body (rendered by
    the caller with render_composed). A held one whose text changes goes back to scheduled.

    One conditional UPDATE on the states a worker never holds, so a claim that wins the race
    makes this raise instead of changing what is being sent.
    """
    values: dict[str, object] = {"updated_at": now}
    if send_at is not None:
        values["due_at"] = max(send_at, now).astimezone(UTC)
    if text is not None:
        values["subject"], values["body_html"] = text
    note = ", ".join(k for k in ("due_at", "subject", "body_html") if k in values)
    to_state = SendState.SCHEDULED if text is not None else None
    for origin in EDITABLE:
        new_state = to_state or origin
        row_values = {**values, "state": new_state}
        if new_state != origin:
            row_values["reason"] = ""
        changed = rowcount(session.execute(
            update(Send).where(Send.id == send.id, Send.state == origin).values(**row_values)
            .execution_options(synchronize_session=False)))
        if changed:
            log(session, send.id, origin.value, new_state.value, now,
                f"changed by the rep: {note}")
            session.refresh(send)
            return send
    session.refresh(send)
    raise SendNotEditable(f"it is {send.state.value}: too late to change it")


def cancel_send(session: Session, send: Send, now: datetime) -> Send:
    """Cancel a send not yet claimed. An automatic one's person moves on to the next step; a
    task's stays open, to send again from compose or skip."""
    if send.state not in PENDING_SEND or not cancel_pending(
            session, Send.id == send.id, CANCEL_REASON, now):
        session.refresh(send)
        raise SendNotEditable(f"it is {send.state.value}: too late to cancel it")
    session.refresh(send)
    enrollment = session.get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    if send.task_id is None and enrollment.current_position == send.position:
        advance(session, enrollment, now)
    return send
