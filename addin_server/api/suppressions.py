"""REST API of the suppression list and blocked domains (organisation-wide).

Every rep of the organisation may list and add suppressed addresses; lifting one, and managing
blocked domains, is for admins.
"""

from __future__ import annotations

import re

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from addin_server import suppressions
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, checked_page, current_rep, require_admin
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import domain_json, suppression_json
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.models import BlockedDomain, Enrollment, Person, Suppression
from addin_server.suppressions import suppress
from addin_server.validation import Errors, get_str, parse_email
from addin_server.web.common import ApiError, db, not_found, now

bp = api_blueprint("api_suppressions", __name__)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@bp.get("/suppressions")
def list_suppressions() -> ResponseReturnValue:
    limit, offset = checked_page()
    mine = Suppression.org_id == current_rep().org_id
    rows = db().scalars(select(Suppression).where(mine)
                        .order_by(Suppression.email).limit(limit).offset(offset))
    total = db().scalar(select(func.count()).select_from(Suppression).where(mine))
    return jsonify({"suppressions": [suppression_json(r) for r in rows], "total": total})


@bp.post("/suppressions")
def add_suppression() -> ResponseReturnValue:
    data = checked_body(bodies.SuppressionIn)
    errors = Errors()
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
    require_admin()
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
    require_admin()
    data = checked_body(bodies.BlockedDomainIn)
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
    require_admin()
    if not suppressions.remove_blocked_domain(db(), current_rep().org_id, domain):
        not_found("domain")
    return jsonify({"removed": domain.lower()})
