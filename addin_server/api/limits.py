"""REST API of a mailbox's sending limits (daily cap, pacing) and its 7-day forecast."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import limits_json
from addin_server.guard.breakers import SCOPE_DOMAIN, release_mailbox
from addin_server.models import Mailbox, Rep
from addin_server.sending import pacing as mailbox_pacing
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, not_found, now

bp = api_blueprint("api_limits", __name__)


def _mailbox(mailbox_id: int) -> Mailbox:
    """The rep's own mailbox, or one of the organisation's for an admin; else 404."""
    box = db().get(Mailbox, mailbox_id)
    rep = current_rep()
    owner = db().get(Rep, box.rep_id) if box is not None else None
    if box is None or owner is None or owner.org_id != rep.org_id or (
            not rep.is_admin and owner.id != rep.id):
        not_found("mailbox_id")
    return box


@bp.get("/mailboxes/<int:mailbox_id>/limits")
def get_limits(mailbox_id: int) -> ResponseReturnValue:
    return jsonify(limits_json(_mailbox(mailbox_id)))


@bp.patch("/mailboxes/<int:mailbox_id>/limits")
def patch_limits(mailbox_id: int) -> ResponseReturnValue:
    box = _mailbox(mailbox_id)
    data = checked_body(bodies.MailboxLimitsIn)
    errors = Errors()
    bounds = {"daily_cap": (1, 10_000, True), "min_gap_seconds": (0, 86_400, False),
              "batch_size": (1, 10_000, True), "batch_wait_seconds": (0, 86_400, False)}
    changes: dict[str, int | None] = {}
    for key, (low, high, nullable) in bounds.items():
        if key not in data:
            continue
        value = data[key]
        if value is None and nullable:
            changes[key] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors.add(key, f"must be an integer from {low} to {high}"
                       + (" or null" if nullable else ""))
        else:
            changes[key] = value
    errors.raise_if_any()
    for key, value in changes.items():
        setattr(box, key, value)
    box.updated_at = now()
    return jsonify(limits_json(box))


@bp.post("/mailboxes/<int:mailbox_id>/breaker/release")
def release_breaker(mailbox_id: int) -> ResponseReturnValue:
    """A person lets a mailbox paused by its bounce breaker send again. A domain's breaker
    pauses colleagues' mailboxes too: only an administrator releases it."""
    box = _mailbox(mailbox_id)
    rep = current_rep()
    if not box.guard_reason:
        raise ApiError(409, "this mailbox's bounce breaker has not tripped", "mailbox_id")
    if box.guard_scope == SCOPE_DOMAIN and not rep.is_admin:
        raise ApiError(403, "only an administrator may release a domain's breaker",
                       "mailbox_id")
    release_mailbox(db(), box, now(), by=rep.email)
    return jsonify(limits_json(box))


@bp.get("/mailboxes/<int:mailbox_id>/forecast")
def get_forecast(mailbox_id: int) -> ResponseReturnValue:
    box = _mailbox(mailbox_id)
    days = mailbox_pacing.forecast(db(), box, now(), days=7)
    return jsonify({"mailbox_id": box.id, **limits_json(box), "days": [
        {"date": d.day.isoformat(), "due": d.due, "expected": d.expected, "cap": d.cap}
        for d in days]})
