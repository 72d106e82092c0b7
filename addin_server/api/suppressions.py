"""REST API of the suppression list and blocked domains (organisation-wide), and of a
mailbox's sending limits and 7-day forecast.

Every rep of the organisation may list and add suppressed addresses; lifting one, and managing
blocked domains, is for admins.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import suppressions
from addin_server.api.resources import _authenticate, current_rep
from addin_server.api.serializers import domain_json, limits_json, suppression_json
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.inbound.rules import suppress
from addin_server.models import (
    BlockedDomain,
    Enrollment,
    Mailbox,
    Person,
    PersonAddress,
    Rep,
    Suppression,
)
from addin_server.sending import pacing_outbox as mailbox_pacing
from addin_server.validation import Errors, get_str, parse_email
from addin_server.web.common import ApiError, db, json_body, not_found, now

bp = Blueprint("replies_api", __name__, url_prefix="/api/v1")
bp.before_request(_authenticate)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _admin() -> None:
    if not current_rep().is_admin:
        raise ApiError(403, "only an administrator may do this")


def _page() -> tuple[int, int]:
    errors = Errors()
    try:
        limit = int(request.args.get("limit", 200))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        errors.add("limit", "limit and offset must be integers")
        errors.raise_if_any()
        raise AssertionError from None
    if not 1 <= limit <= 1000 or offset < 0:
        errors.add("limit", "limit is 1..1000 and offset >= 0")
    errors.raise_if_any()
    return limit, offset


@bp.get("/suppressions")
def list_suppressions() -> ResponseReturnValue:
    limit, offset = _page()
    rows = db().scalars(select(Suppression).where(Suppression.org_id == current_rep().org_id)
                        .order_by(Suppression.email).limit(limit).offset(offset))
    return jsonify({"suppressions": [suppression_json(r) for r in rows]})


@bp.post("/suppressions")
def add_suppression() -> ResponseReturnValue:
    data = json_body()
    errors = Errors()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
    email = parse_email(data.get("email"), "email", errors)
    note = get_str(data, "note", "note", errors, max_len=500)
    errors.raise_if_any()
    assert email is not None
    rep = current_rep()
    session = db()
    created = suppress(session, rep.org_id, email, "manual", now(), rep_id=rep.id, note=note)
    # The person's live campaigns end now rather than wait at every send.
    person = session.scalar(select(Person).where(Person.org_id == rep.org_id,
                                                 Person.email == email))
    if person is not None:
        for e in session.scalars(select(Enrollment).where(
                Enrollment.person_id == person.id, Enrollment.status.in_(LIVE_ENROLLMENT))):
            enrollments.end(session, e, now(), status=EnrollmentStatus.STOPPED,
                            reason="on the suppression list")
    row = session.scalar(select(Suppression).where(Suppression.org_id == rep.org_id,
                                                   Suppression.email == email))
    assert row is not None
    return jsonify(suppression_json(row)), 201 if created else 200


@bp.delete("/suppressions/<email>")
def remove_suppression(email: str) -> ResponseReturnValue:
    _admin()
    try:
        removed = suppressions.remove_suppression(db(), current_rep().org_id, email)
    except enrollments.Conflict as exc:
        raise ApiError(409, str(exc), "email") from exc
    if not removed:
        not_found("email")
    return jsonify({"removed": email.lower()})


@bp.get("/blocked-domains")
def list_domains() -> ResponseReturnValue:
    rows = db().scalars(select(BlockedDomain).where(
        BlockedDomain.org_id == current_rep().org_id).order_by(BlockedDomain.domain))
    return jsonify({"blocked_domains": [domain_json(r) for r in rows]})


@bp.post("/blocked-domains")
def add_domain() -> ResponseReturnValue:
    _admin()
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
    errors = Errors()
    domain = get_str(data, "domain", "domain", errors, required=True, max_len=253)
    domain = domain.strip().lower().lstrip("@")
    if not errors and not _DOMAIN.match(domain):
        errors.add("domain", "is not a domain name such as example.com")
    note = get_str(data, "note", "note", errors, max_len=500)
    errors.raise_if_any()
    rep = current_rep()
    created = suppressions.add_blocked_domain(db(), rep.org_id, domain, now(), rep_id=rep.id,
                                              note=note)
    row = db().scalar(select(BlockedDomain).where(BlockedDomain.org_id == rep.org_id,
                                                  BlockedDomain.domain == domain))
    assert row is not None
    return jsonify(domain_json(row)), 201 if created else 200


@bp.delete("/blocked-domains/<domain>")
def remove_domain(domain: str) -> ResponseReturnValue:
    _admin()
    if not suppressions.remove_blocked_domain(db(), current_rep().org_id, domain):
        not_found("domain")
    return jsonify({"removed": domain.lower()})


# --- mailbox limits and forecast (sending caps) ------------------------------------------------


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
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
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


@bp.get("/mailboxes/<int:mailbox_id>/forecast")
def get_forecast(mailbox_id: int) -> ResponseReturnValue:
    box = _mailbox(mailbox_id)
    days = mailbox_pacing.forecast(db(), box, now(), days=7)
    return jsonify({"mailbox_id": box.id, **limits_json(box), "days": [
        {"date": d.day.isoformat(), "due": d.due, "expected": d.expected} for d in days]})


# --- other addresses of a person (a reply from one counts as theirs) ----------------------------


def _person(person_id: int) -> Person:
    person = db().get(Person, person_id)
    if person is None or person.org_id != current_rep().org_id:
        not_found("person_id")
    return person


def _addresses(person: Person) -> Response:
    rows = db().scalars(select(PersonAddress.email).where(
        PersonAddress.person_id == person.id).order_by(PersonAddress.email))
    return jsonify({"person_id": person.id, "email": person.email, "addresses": list(rows)})


@bp.get("/people/<int:person_id>/addresses")
def list_addresses(person_id: int) -> ResponseReturnValue:
    return _addresses(_person(person_id))


@bp.post("/people/<int:person_id>/addresses")
def add_address(person_id: int) -> ResponseReturnValue:
    person = _person(person_id)
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
    errors = Errors()
    email = parse_email(data.get("email"), "email", errors)
    errors.raise_if_any()
    assert email is not None
    session = db()
    if email == person.email:
        return _addresses(person)
    other = session.scalar(select(Person.id).where(Person.org_id == person.org_id,
                                                   Person.email == email))
    taken = session.scalar(select(PersonAddress.person_id).where(
        PersonAddress.org_id == person.org_id, PersonAddress.email == email))
    if other is not None or (taken is not None and taken != person.id):
        raise ApiError(409, "this address belongs to another person", "email")
    if taken is None:
        session.add(PersonAddress(org_id=person.org_id, person_id=person.id, email=email,
                                  created_at=now()))
        session.flush()
    return _addresses(person), 201


@bp.delete("/people/<int:person_id>/addresses/<email>")
def remove_address(person_id: int, email: str) -> ResponseReturnValue:
    person = _person(person_id)
    row = db().scalar(select(PersonAddress).where(PersonAddress.person_id == person.id,
                                                  PersonAddress.email == email.lower()))
    if row is None:
        not_found("email")
    db().delete(row)
    return _addresses(person)
