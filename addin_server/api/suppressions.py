"""REST API of the suppression list and blocked domains (organisation-wide).

Every rep of the organisation may list and add suppressed addresses; lifting one, and managing
blocked domains, is for admins.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import suppressions
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, checked_page, current_rep, require_admin
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import domain_json, suppression_json
from addin_server.db import among, chunk_size
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.models import BlockedDomain, Enrollment, Person, Suppression
from addin_server.suppressions import suppress
from addin_server.validation import Errors, get_str, parse_domain, parse_email
from addin_server.web.common import ApiError, db, not_found, now

bp = api_blueprint("api_suppressions", __name__)

MAX_BULK = 10_000


def _q() -> str:
    return request.args.get("q", "").strip()[:200]


@bp.get("/suppressions")
def list_suppressions() -> ResponseReturnValue:
    """The list by address; `q` finds part of an address, `reason` narrows; `total` counts
    every match (for paging)."""
    limit, offset = checked_page()
    reason = request.args.get("reason", "")
    if reason not in ("", "unsubscribed", "manual", "bounced"):
        raise ApiError(422, "must be unsubscribed, manual or bounced", "reason")
    query = suppressions.suppression_query(current_rep().org_id, _q(), reason)
    total = suppressions.count(db(), query)
    rows = db().scalars(query.limit(limit).offset(offset))
    return jsonify({"suppressions": [suppression_json(r) for r in rows], "total": total})


def _stop_live(session: Session, org_id: int, emails: list[str]) -> None:
    """The people's live campaigns end now rather than wait at every send."""
    size = chunk_size(session)
    for i in range(0, len(emails), size):
        for e in session.scalars(select(Enrollment).join(Person, Person.id == Enrollment.person_id)
                                 .where(Person.org_id == org_id,
                                        among(session, Person.email, emails[i: i + size]),
                                        Enrollment.status.in_(LIVE_ENROLLMENT))):
            enrollments.end(session, e, now(), status=EnrollmentStatus.STOPPED,
                            reason="on the suppression list")


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
    _stop_live(session, rep.org_id, [email])
    row = session.scalar(select(Suppression).where(Suppression.org_id == rep.org_id,
                                                   Suppression.email == email))
    assert row is not None
    return jsonify(suppression_json(row)), 201 if created else 200


@bp.post("/suppressions/bulk")
def add_suppressions() -> ResponseReturnValue:
    """Many addresses at once (admins): every line good, or nothing added (422 naming each
    bad line)."""
    require_admin()
    values, note = _bulk(checked_body(bodies.BulkListIn), "email")
    rep = current_rep()
    added, already = suppressions.suppress_many(db(), rep.org_id, values, now(), rep_id=rep.id,
                                                note=note)
    _stop_live(db(), rep.org_id, added)
    return jsonify({"added": added, "already": already}), 201 if added else 200


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
    limit, offset = checked_page()
    query = suppressions.domain_query(current_rep().org_id, _q())
    total = suppressions.count(db(), query)
    rows = db().scalars(query.limit(limit).offset(offset))
    return jsonify({"blocked_domains": [domain_json(r) for r in rows], "total": total})


@bp.post("/blocked-domains")
def add_domain() -> ResponseReturnValue:
    require_admin()
    data = checked_body(bodies.BlockedDomainIn)
    errors = Errors()
    domain = parse_domain(data.get("domain"), "domain", errors)
    note = get_str(data, "note", "note", errors, max_len=500)
    errors.raise_if_any()
    assert domain is not None
    rep = current_rep()
    created = suppressions.add_blocked_domain(db(), rep.org_id, domain, now(), rep_id=rep.id,
                                              note=note)
    row = db().scalar(select(BlockedDomain).where(BlockedDomain.org_id == rep.org_id,
                                                  BlockedDomain.domain == domain))
    assert row is not None
    return jsonify(domain_json(row)), 201 if created else 200


@bp.post("/blocked-domains/bulk")
def add_domains() -> ResponseReturnValue:
    require_admin()
    values, note = _bulk(checked_body(bodies.BulkListIn), "domain")
    rep = current_rep()
    added, already = suppressions.block_domains(db(), rep.org_id, values, now(), rep_id=rep.id,
                                                note=note)
    return jsonify({"added": added, "already": already}), 201 if added else 200


@bp.delete("/blocked-domains/<domain>")
def remove_domain(domain: str) -> ResponseReturnValue:
    require_admin()
    if not suppressions.remove_blocked_domain(db(), current_rep().org_id, domain):
        not_found("domain")
    return jsonify({"removed": domain.lower()})


# --- many at once: a list, or a CSV's text --------------------------------------------------


def _bulk(data: dict[str, Any], kind: str) -> tuple[list[str], str]:
    """The values of a bulk body, each checked; every bad line named in one 422."""
    errors = Errors()
    note = get_str(data, "note", "note", errors, max_len=500)
    lines: list[tuple[str, str]] = []  # (where, text)
    if isinstance(data.get("entries"), list):
        lines = [(f"entries[{i}]", v) for i, v in enumerate(data["entries"])]
    elif isinstance(data.get("csv"), str):
        lines = _csv_lines(data["csv"], kind, errors)
    else:
        errors.add("entries", "give entries (a list) or csv (a file's text)")
    if len(lines) > MAX_BULK:
        errors.add("csv" if "csv" in data else "entries", f"at most {MAX_BULK:,} lines at once")
        lines = []
    parse = parse_email if kind == "email" else parse_domain
    values = [v for where, text in lines if (v := parse(text, where, errors)) is not None]
    if not values and not errors:
        errors.add("csv" if "csv" in data else "entries", f"no {kind} in it")
    errors.raise_if_any()
    return values, note


_HEADERS = {"email": {"email", "e-mail", "email address", "e-mail address", "address"},
            "domain": {"domain", "domains", "domain name"}}


def _csv_lines(text: str, kind: str, errors: Errors) -> list[tuple[str, str]]:
    """(where, cell) of each non-blank row: the column headed like `kind` (`email`,
    `Email Address`, `domain`), else the first; "csv line N" counts the file's lines (the
    header is line 1 when there is one)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if any(c in first for c in ",;\t") else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    out: list[tuple[str, str]] = []
    column, line = 0, 1
    try:
        for number, row in enumerate(reader):
            cells = [c.strip() for c in row]
            if number == 0:
                named = [i for i, c in enumerate(cells) if c.lower() in _HEADERS[kind]]
                if named:  # a header row, known by its name
                    column = named[0]
                    line = reader.line_num + 1
                    continue
            if any(cells):
                cell = cells[column] if column < len(cells) else ""
                out.append((f"csv line {line}", cell))
            line = reader.line_num + 1
    except csv.Error as exc:
        errors.add(f"csv line {line}", f"is not valid CSV: {exc}")
    return out
