"""The send pipeline's API: send an email task from the compose window, the outbox for the
Command Center, and what the local development mailbox sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import dates, row_counts
from addin_server.accounts import may_see_person
from addin_server.api.body import checked_body
from addin_server.api.common import (
    api_blueprint,
    clamped_page,
    current_rep,
    owned,
    query_int,
)
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import message_json, send_json
from addin_server.campaigns import templates
from addin_server.enums import MailboxProvider, SendState
from addin_server.models import (
    Enrollment,
    LocalMessage,
    Mailbox,
    Person,
    Rep,
    Send,
    SendLog,
    Task,
)
from addin_server.paging import in_order, page_keys
from addin_server.sending import held
from addin_server.sending.compose import (
    ComposedEmail,
    SendNotEditable,
    TaskNotSendable,
    cancel_send,
    edit_send,
    render_composed,
    send_task_email,
)
from addin_server.validation import (
    SUBJECT_MAX,
    Errors,
    get_str,
    parse_address_list,
    parse_instant,
)
from addin_server.web.common import ApiError, db, iso, not_found, now, runtime

bp = api_blueprint("api_sends", __name__)


def localtime(instant: datetime, tz: str) -> str:
    return dates.absolute(instant, tz)


def owned_send(send_id: int) -> Send:
    send = db().get(Send, send_id)
    rep = current_rep()
    if send is None or send.org_id != rep.org_id:
        not_found()
    if not rep.is_admin:
        enrollment = db().get(Enrollment, send.enrollment_id)
        if enrollment is None or enrollment.rep_id != rep.id:
            not_found()
    return send


@bp.post("/tasks/<int:task_id>/send")
def send_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    data = checked_body(bodies.TaskSendIn)
    errors = Errors()
    subject = get_str(data, "subject", "subject", errors, required=True, max_len=SUBJECT_MAX,
                      header=True)
    body = get_str(data, "body_html", "body_html", errors, required=True, max_len=500_000)
    send_at = None
    if data.get("send_at") not in (None, ""):
        send_at = parse_instant(data["send_at"], "send_at", errors)
        if send_at is not None:
            _refuse_past(send_at, errors)
    cc = parse_address_list(data.get("cc"), "cc", errors)
    bcc = parse_address_list(data.get("bcc"), "bcc", errors)
    errors.raise_if_any()
    settings = runtime().settings
    try:
        send, created = send_task_email(
            db(), task, ComposedEmail(subject, body, send_at, tuple(cc), tuple(bcc),
                                      tuple(data.get("attachment_ids") or ())), now(),
            base_url=settings.public_base_url, secret_key=settings.secret_key)
    except TaskNotSendable as exc:
        raise ApiError(409, str(exc), "status") from exc
    db().flush()
    return jsonify({**send_json(send), "created": created}), 201 if created else 200


# A time picked to the minute may be a few seconds behind the clock by the time it arrives.
PAST_GRACE = timedelta(seconds=60)


def _refuse_past(send_at: datetime, errors: Errors) -> None:
    """A scheduled time already past would send at once while the rep reads "Scheduled for";
    refuse it, both times shown in the rep's zone."""
    if send_at >= now() - PAST_GRACE:
        return
    tz = current_rep().timezone
    errors.add("send_at", f"is in the past ({localtime(send_at, tz)}; it is now "
               f"{localtime(now(), tz)} {tz}): pick a later time, or send it now")


@bp.get("/sends")
def list_sends() -> ResponseReturnValue:
    """One page of the outbox by due time, and how many match in all. Each (rep, state) is
    paged on its own range of ix_sends_rep_state_due and merged (paging.py); the total comes
    from send_counts."""
    rep = current_rep()
    rep_ids = [rep.id]
    if rep.is_admin and request.args.get("mine") != "1":
        rep_ids = list(db().scalars(select(Rep.id).where(Rep.org_id == rep.org_id)
                                    .order_by(Rep.id)))
    states = list(SendState)
    state = request.args.get("state")
    if state:
        wanted = state.split(",")
        bad = [s for s in wanted if s not in {v.value for v in SendState}]
        if bad:
            raise ApiError(422, "must be among " + ", ".join(v.value for v in SendState),
                           "state")
        states = [SendState(s) for s in dict.fromkeys(wanted)]
    limit, offset = clamped_page(100)
    parts = [select(Send.id).where(Send.rep_id == r, Send.state == s)
             for r in rep_ids for s in states]
    ids = page_keys(db(), parts, (Send.due_at, Send.id), desc=False, limit=limit,
                    offset=offset)
    # Each row's enrollment and mailbox come with it: send_json reads them by key.
    rows = in_order(db().execute(
        select(Send, Person, Enrollment, Mailbox)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .outerjoin(Mailbox, Mailbox.id == Send.mailbox_id)
        .where(Send.id.in_(ids))).all(), ids, lambda row: row[0].id)
    total = sum(n for n, _ in row_counts.sends_by_state(db(), rep_ids, (), states).values())
    return jsonify({"sends": [send_json(s, p) for s, p, _, _ in rows], "total": total})


@bp.get("/sends/<int:send_id>")
def get_send(send_id: int) -> ResponseReturnValue:
    send = owned_send(send_id)
    history = db().scalars(select(SendLog).where(SendLog.send_id == send.id)
                           .order_by(SendLog.id))
    body = {**send_json(send), "history": [
        {"at": iso(h.at), "from": h.from_state or None, "to": h.to_state, "note": h.note}
        for h in history]}
    if send.state == SendState.HELD:
        body["held"] = held_json(send)
    return jsonify(body)


def held_json(send: Send) -> dict[str, object]:
    """A held send rendered now: the missing fields marked, and as the default text sends it."""
    settings = runtime().settings
    try:
        email = held.held_email(db(), send, base_url=settings.public_base_url,
                                secret_key=settings.secret_key)
    except (templates.PromptsLeft, ValueError) as exc:
        return {"missing_fields": [], "subject": "", "body_html": "", "default_subject": "",
                "default_body_html": "", "problem": str(exc)}
    return {"missing_fields": list(email.missing), "subject": email.marked.subject,
            "body_html": email.marked.body_html, "default_subject": email.blank.subject,
            "default_body_html": email.blank.body_html, "problem": ""}


@bp.post("/sends/<int:send_id>/release")
def release(send_id: int) -> ResponseReturnValue:
    """Release a held send: optional values for its person's missing fields (saved on the
    person), `use_defaults` to send fields still empty blank. 422 naming `fields.<name>` when
    one still has no value, 409 when the send is no longer held."""
    send = owned_send(send_id)
    data = checked_body(bodies.SendReleaseIn) if request.data else {}
    fields = held.check_fields(data.get("fields") or {})
    enrollment = db().get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    if fields and not may_see_person(current_rep(), enrollment.person):
        raise ApiError(422, "another rep's person: only its owner or an admin changes its "
                       "fields", "fields")
    settings = runtime().settings
    try:
        held.release(db(), send, now(), fields=fields,
                     use_defaults=data.get("use_defaults") is True,
                     base_url=settings.public_base_url, secret_key=settings.secret_key)
    except held.NotHeld as exc:
        raise ApiError(409, str(exc), "state") from exc
    return jsonify(send_json(send))


@bp.post("/sends/<int:send_id>/skip")
def skip(send_id: int) -> ResponseReturnValue:
    """Skip the step of a held send: cancelled, and its person moves on. 409 when not held."""
    send = owned_send(send_id)
    try:
        held.skip(db(), send, now())
    except held.NotHeld as exc:
        raise ApiError(409, str(exc), "state") from exc
    return jsonify(send_json(send))


@bp.patch("/sends/<int:send_id>")
def patch_send(send_id: int) -> ResponseReturnValue:
    """Reschedule a send not yet claimed (`send_at`), and for an email the rep wrote (a task's)
    change `subject` and `body_html`. 409 once it is queued, sending or done."""
    send = owned_send(send_id)
    data = checked_body(bodies.SendPatchIn)
    errors = Errors()
    send_at = None
    if "send_at" in data:
        send_at = parse_instant(data["send_at"], "send_at", errors)
        if send_at is not None:
            _refuse_past(send_at, errors)
    text = None
    if "subject" in data or "body_html" in data:
        if send.task_id is None:
            field = "subject" if "subject" in data else "body_html"
            errors.add(field, "an automatic email's text comes from its campaign step: edit "
                       "the step")
        else:
            subject = get_str(data, "subject", "subject", errors, max_len=SUBJECT_MAX, header=True)
            body = get_str(data, "body_html", "body_html", errors, max_len=500_000)
            text = (subject if "subject" in data else send.subject,
                    body if "body_html" in data else send.body_html)
    if send_at is None and text is None and not errors.items:
        errors.add("", "give send_at, subject or body_html")
    errors.raise_if_any()
    if text is not None:
        enrollment = db().get(Enrollment, send.enrollment_id)
        assert enrollment is not None
        settings = runtime().settings
        text = render_composed(ComposedEmail(text[0] or "", text[1] or "", None), enrollment,
                               current_rep(), base_url=settings.public_base_url,
                               secret_key=settings.secret_key)
    try:
        edit_send(db(), send, send_at=send_at, text=text, now=now())
    except SendNotEditable as exc:
        raise ApiError(409, str(exc), "state") from exc
    return jsonify(send_json(send))


@bp.post("/sends/<int:send_id>/cancel")
def cancel(send_id: int) -> ResponseReturnValue:
    """Cancel a send not yet claimed; 409 once it is sending or done."""
    send = owned_send(send_id)
    try:
        cancel_send(db(), send, now())
    except SendNotEditable as exc:
        raise ApiError(409, str(exc), "state") from exc
    return jsonify(send_json(send))


def _local_mailbox_ids() -> list[int]:
    return list(db().scalars(select(Mailbox.id).where(
        Mailbox.rep_id == current_rep().id, Mailbox.provider == MailboxProvider.LOCAL)))


@bp.get("/mailbox/messages")
def local_messages() -> ResponseReturnValue:
    """What the rep's local development mailbox sent and received (newest first); `drafts=1`
    adds drafts."""
    query = select(LocalMessage).where(LocalMessage.mailbox_id.in_(_local_mailbox_ids()))
    if request.args.get("drafts") != "1":
        query = query.where(LocalMessage.is_draft.is_(False))
    limit = query_int("limit", 100, 1, 1000, clamp=True)
    rows = db().scalars(query.order_by(LocalMessage.id.desc()).limit(limit))
    return jsonify({"messages": [message_json(m) for m in rows]})


@bp.get("/mailbox/messages/<int:message_id>/raw")
def local_message_raw(message_id: int) -> ResponseReturnValue:
    row = db().get(LocalMessage, message_id)
    if row is None or row.mailbox_id not in _local_mailbox_ids():
        not_found()
    return Response(row.raw, mimetype="message/rfc822")
