"""REST API of the signed-in rep (`GET /me`, `POST /me/sessions/end`, the signature)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.accounts import end_sessions
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.campaigns.snippets import parse_signature

bp = api_blueprint("api_me", __name__)


@bp.get("/me")
def me() -> ResponseReturnValue:
    rep = current_rep()
    return jsonify({"id": rep.id, "email": rep.email, "name": rep.name,
                    "timezone": rep.timezone, "is_admin": rep.is_admin,
                    "organisation": {"id": rep.org_id, "name": rep.org.name},
                    "signature_html": rep.signature_html or ""})


@bp.get("/me/signature")
def get_signature() -> ResponseReturnValue:
    return jsonify({"signature_html": current_rep().signature_html or ""})


@bp.patch("/me/signature")
def patch_signature() -> ResponseReturnValue:
    """The rep's signature: sanitised HTML (merge fields allowed), added below the body of
    every email they send through us; empty removes it."""
    rep = current_rep()
    rep.signature_html = parse_signature(checked_body(bodies.SignatureIn))
    return jsonify({"signature_html": rep.signature_html})


@bp.post("/me/sessions/end")
def end_all_sessions() -> ResponseReturnValue:
    """Sign out everywhere: every web session of the rep ends (API tokens stay)."""
    end_sessions(current_rep())
    return "", 204
