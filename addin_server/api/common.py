"""Request plumbing shared by the REST API's modules: who is calling (an API token, or the web
app's signed-in session), what they may see, and the paging of lists."""

from __future__ import annotations

import re
from typing import TypeVar

from flask import Blueprint, g, request, session

from addin_server.accounts import rep_for_session, rep_for_token
from addin_server.campaigns.org_settings import may_launch_on
from addin_server.models import Campaign, Enrollment, Rep, Task, Template
from addin_server.validation import MAX_ID
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


def launchable(campaign_id: int) -> Campaign:
    """A campaign the rep may launch people on: their own, any of the organisation's for an
    admin, or a colleague's when the organisation lets every rep (org_settings.shared_launch).
    Anything else is a 404, as `owned`."""
    campaign = db().get(Campaign, campaign_id)
    rep = current_rep()
    if campaign is None or campaign.org_id != rep.org_id or not may_launch_on(
            rep.is_admin, rep.id, campaign.rep_id, rep.org.settings):
        not_found()
    return campaign


# Two paging rules, both kept as published: the task and send lists (and the feed) bring
# `limit` and `offset` into range; the suppression list refuses values out of range. Either
# way the database only ever sees values in range (a negative LIMIT is an error on
# PostgreSQL and "no limit" on SQLite; an offset past 2^63 overflows both).


def query_int(name: str, default: int, low: int, high: int, *, clamp: bool) -> int:
    """An integer query parameter in low..high: brought into range when `clamp`, else 422.
    Anything but an optionally signed run of at most 100 digits is a 422 naming the
    parameter (a hundred digits is past any range already)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise ApiError(422, "must be an integer", name)
    value = int(raw)
    if low <= value <= high:
        return value
    if clamp:
        return min(max(value, low), high)
    raise ApiError(422, f"must be from {low} to {high}", name)


_INTEGER = re.compile(r"-?[0-9]{1,100}")


def clamped_page(default_limit: int) -> tuple[int, int]:
    """`limit` (1..1000) and `offset` (0..MAX_ID) from the query string, brought into range."""
    return (query_int("limit", default_limit, 1, 1000, clamp=True),
            query_int("offset", 0, 0, MAX_ID, clamp=True))


def checked_page() -> tuple[int, int]:
    """`limit` (1..1000, 200 by default) and `offset` (0..MAX_ID) from the query string, or
    422."""
    return (query_int("limit", 200, 1, 1000, clamp=False),
            query_int("offset", 0, 0, MAX_ID, clamp=False))
