"""Request plumbing shared by the REST API's modules: who is calling (an API token, or the web
app's signed-in session), what they may see, and the paging of lists."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, g, request, session

from addin_server.accounts import rep_for_session, rep_for_token
from addin_server.models import Campaign, Enrollment, Rep, Task, Template
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, not_found, now

PREFIX = "/api/v1"

T = TypeVar("T", Campaign, Enrollment, Task, Template)


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of the REST API: under /api/v1, every request authenticated first."""
    bp = Blueprint(name, import_name, url_prefix=PREFIX)
    bp.before_request(authenticate)
    return bp


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    rep = None
    if scheme.lower() == "bearer" and token.strip():
        rep = rep_for_token(db(), token.strip(), now())
    if rep is None:
        rep = _session_rep()
    if rep is None:
        raise ApiError(401, "a valid API token is required (Authorization: Bearer <token>)",
                       "Authorization")
    g.rep = rep


def _session_rep() -> Rep | None:
    """The web app's signed-in rep, for the pages' own calls (CSRF-checked by the web app)."""
    rep_id = session.get("rep_id")
    if rep_id is None or (request.method not in ("GET", "HEAD") and not g.get("csrf_ok")):
        return None
    return rep_for_session(db(), rep_id, session.get("session_version"))


def current_rep() -> Rep:
    rep: Rep = g.rep
    return rep


def require_admin() -> None:
    if not current_rep().is_admin:
        raise ApiError(403, "only an administrator may do this")


def owned(model: type[T], object_id: int) -> T:
    """The object if the rep may see it: their own, or their organisation's for an admin.
    Anything else is a 404, so that ids of other organisations reveal nothing."""
    obj = db().get(model, object_id)
    rep = current_rep()
    if obj is None or obj.org_id != rep.org_id:
        not_found()
    owner = getattr(obj, "rep_id", rep.id)
    if not rep.is_admin and owner != rep.id:
        not_found()
    return obj


# Two paging rules, both kept as published: the task and send lists bring `limit` and `offset`
# into range; the suppression list refuses values out of range.


def clamped_page(default_limit: int) -> tuple[int, int]:
    """`limit` (at most 1000) and `offset` (at least 0) from the query string."""
    try:
        limit = min(int(request.args.get("limit", default_limit)), 1000)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError as exc:
        raise ApiError(422, "limit and offset must be integers", "limit") from exc
    return limit, offset


def checked_page() -> tuple[int, int]:
    """`limit` (1..1000, 200 by default) and `offset` (>= 0) from the query string, or 422."""
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
