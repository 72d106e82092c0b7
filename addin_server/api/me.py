"""REST API of the signed-in rep (`GET /me`, `POST /me/sessions/end`)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.accounts import end_sessions
from addin_server.api.common import api_blueprint, current_rep

bp = api_blueprint("api_me", __name__)


@bp.get("/me")
def me() -> ResponseReturnValue:
    rep = current_rep()
    return jsonify({"id": rep.id, "email": rep.email, "name": rep.name,
                    "timezone": rep.timezone, "is_admin": rep.is_admin,
                    "organisation": {"id": rep.org_id, "name": rep.org.name}})


@bp.post("/me/sessions/end")
def end_all_sessions() -> ResponseReturnValue:
    """Sign out everywhere: every web session of the rep ends (API tokens stay)."""
    end_sessions(current_rep())
    return "", 204
