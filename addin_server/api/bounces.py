"""REST API of the bounce quarantine: the bursts held for review, and releasing one (admins)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep, require_admin
from addin_server.api.openapi import requests as bodies
from addin_server.inbound.quarantine import held_bursts, release_burst
from addin_server.validation import Errors
from addin_server.web.common import db, iso, now

bp = api_blueprint("api_bounces", __name__)


@bp.get("/bounces/held")
def list_held() -> ResponseReturnValue:
    require_admin()
    bursts = held_bursts(db(), current_rep().org_id)
    return jsonify({"bursts": [{**b, "first_at": iso(b["first_at"]),  # type: ignore[arg-type]
                                "last_at": iso(b["last_at"])} for b in bursts]})  # type: ignore[arg-type]


@bp.post("/bounces/held/release")
def release_held() -> ResponseReturnValue:
    """The burst was false: every person it held resumes."""
    require_admin()
    data = checked_body(bodies.BurstReleaseIn)
    errors = Errors()
    provider = data.get("provider")
    if not isinstance(provider, str) or not provider.strip():
        errors.add("provider", "the provider whose burst to release, e.g. googlemail.com")
    errors.raise_if_any()
    assert isinstance(provider, str)
    rep = current_rep()
    known = {b["provider"] for b in held_bursts(db(), rep.org_id)}
    if provider not in known:
        errors.add("provider", "no burst held for review from this provider")
        errors.raise_if_any()
    resumed = release_burst(db(), rep.org_id, provider, now(), by=rep.email)
    return jsonify({"provider": provider, "resumed": resumed})
