"""Connect Salesforce: the OAuth web server flow with PKCE, and the connection's status.

The rep is the web session's (session["rep_id"]) or an API token's. The `state` is
web/oauth_state.py's: the rep, the login host and the PKCE verifier wait encrypted on the server
(the verifier never leaves it but for the code exchange), used once within 10 minutes; a flow
started in a browser must come back to that browser's session, one started with an API token
(which has no cookie) to a browser signed in as no one else.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint, g, jsonify, redirect, render_template_string, request, session
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import ValidationError

from addin_server.accounts import rep_for_token
from addin_server.crm import connections, outbox, salesforce
from addin_server.crm.port import CrmAuthError, CrmError, CrmPermanentError
from addin_server.crypto import SecretsUnavailable
from addin_server.models import CrmConnection, Rep
from addin_server.runtime import runtime
from addin_server.web import oauth_state
from addin_server.web.common import ApiError, bearer_token, db, iso, now

bp = Blueprint("crm", __name__, url_prefix="/crm/salesforce")

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Salesforce</title></head><body><main><h1>{{ title }}</h1><p>{{ message }}</p>
<p><a href="/">Back to campaigns</a></p></main></body></html>"""


def _rep() -> Rep:
    token = bearer_token()
    rep = None
    if token:
        rep = rep_for_token(db(), token, now())
        g.crm_by_token = rep is not None
    # A state-changing call from a page must carry the web app's CSRF token.
    if rep is None and session.get("rep_id") is not None and (
            request.method in ("GET", "HEAD") or _csrf_ok()):
        rep = db().get(Rep, session["rep_id"])
    if rep is None:
        raise ApiError(401, "sign in, or send an API token (Authorization: Bearer <token>)",
                       "Authorization")
    return rep


def _csrf_ok() -> bool:
    """The web app's CSRF token (Flask-WTF), from the X-CSRFToken header or the form."""
    token = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def _redirect_uri() -> str:
    return f"{runtime().settings.public_base_url}/crm/salesforce/callback"


def _login_url(sandbox: bool) -> str:
    settings = runtime().settings
    return settings.salesforce_sandbox_login_url if sandbox else settings.salesforce_login_url


def _page(title: str, message: str, status: int) -> ResponseReturnValue:
    if request.accept_mimetypes.best == "application/json":
        key = "connected" if status == 200 else "error"
        return jsonify({key: message} if status == 200 else {
            "errors": [{"field": "", "message": message}]}), status
    return render_template_string(_PAGE, title=title, message=message), status


@bp.get("/connect")
def connect() -> ResponseReturnValue:
    """Start the flow: a redirect to Salesforce (JSON `authorize_url` for API-token callers)."""
    rep = _rep()
    settings = runtime().settings
    if not settings.salesforce_client_id:
        raise ApiError(503, "Salesforce is not configured on this server (SALESFORCE_CLIENT_ID)")
    sandbox = request.args.get("sandbox", "") in ("1", "true", "yes")
    issued = oauth_state.issue()
    url = salesforce.authorize_url(_login_url(sandbox), client_id=settings.salesforce_client_id,
                                   redirect_uri=_redirect_uri(), state=issued.state,
                                   verifier=issued.verifier)
    by_token = bool(g.get("crm_by_token"))
    oauth_state.keep("connect-salesforce", issued, {"rep_id": rep.id, "sandbox": sandbox},
                     in_browser=not by_token)
    if by_token or request.args.get("format") == "json":
        return jsonify({"authorize_url": url})
    return redirect(url, code=302)


@bp.get("/callback")
def callback() -> ResponseReturnValue:
    """Salesforce sends the rep back here with a code: exchange it and keep the grant."""
    if request.args.get("error"):
        description = request.args.get("error_description") or request.args["error"]
        return _page("Salesforce not connected", f"Salesforce said: {description}", 400)
    try:
        pending = oauth_state.take("connect-salesforce", request.args.get("state", ""))
    except oauth_state.StateRefused as exc:
        return _page("Salesforce not connected", str(exc), 400)
    signed_in = session.get("rep_id")
    if signed_in is not None and signed_in != pending.data["rep_id"]:
        return _page("Salesforce not connected", "this link was made for another user", 403)
    rep = db().get(Rep, pending.data["rep_id"])
    code = request.args.get("code", "")
    if rep is None or not code:
        return _page("Salesforce not connected", "the callback has no code", 400)
    rt = runtime()
    settings = rt.settings
    login_url = _login_url(bool(pending.data["sandbox"]))
    try:
        tokens = salesforce.exchange_code(
            requests.Session(), login_url, client_id=settings.salesforce_client_id,
            client_secret=settings.salesforce_client_secret, code=code,
            redirect_uri=_redirect_uri(), verifier=pending.verifier,
            timeout=settings.salesforce_timeout)
        if not salesforce.signature_ok(settings.salesforce_client_secret, tokens):
            return _page("Salesforce not connected", "the token answer was not signed by "
                         "Salesforce for this app", 502)
        connections.save_connection(db(), rt, rep, tokens, login_url, now())
    except connections.OtherOrg:
        return _page("Salesforce not connected", "you are connected to another Salesforce "
                     "org: disconnect it first", 409)
    except CrmAuthError as exc:
        return _page("Salesforce not connected", f"Salesforce refused the code: {exc}", 400)
    except CrmPermanentError as exc:
        return _page("Salesforce not connected", str(exc), 400)
    except CrmError as exc:
        return _page("Salesforce not connected", f"Salesforce could not be reached: {exc}", 502)
    except SecretsUnavailable:
        return _page("Salesforce not connected", "this server has no ENCRYPTION_KEYS to keep "
                     "the grant safely", 503)
    return _page("Salesforce connected", f"Tasks and email activity now sync to "
                 f"{tokens.instance_url}.", 200)


def _connection(rep: Rep) -> CrmConnection | None:
    return db().scalar(select(CrmConnection).where(CrmConnection.rep_id == rep.id))


@bp.get("")
def status() -> ResponseReturnValue:
    return jsonify(connection_status(db(), _rep()))


def connection_status(session: Session, rep: Rep) -> dict[str, Any]:
    """The rep's connection as the status endpoint and the Salesforce page show it."""
    conn = session.scalar(select(CrmConnection).where(CrmConnection.rep_id == rep.id))
    if conn is None:
        return {"connected": False, "status": "not_connected"}
    return {
        "connected": conn.status.value == "connected",
        "status": conn.status.value,
        "reason": conn.status_reason,
        "instance_url": conn.instance_url,
        "user_id": conn.sf_user_id,
        "api_usage": {"used": conn.api_used, "limit": conn.api_limit,
                      "seen_at": iso(conn.api_seen_at)},
        "pulled_at": iso(conn.pulled_at),
        "held_until": iso(conn.hold_until),
        # What failed last (push or pull): Salesforce's error code, its message, the rows.
        "last_error": {"code": conn.last_error_code, "message": conn.last_error,
                       "at": iso(conn.last_error_at)} if conn.last_error_at else None,
        "sync": outbox.counts(session, rep.id),
    }


@bp.post("/disconnect")
def disconnect() -> ResponseReturnValue:
    """Forget the grant; sync work waits until the rep connects again."""
    rep = _rep()
    conn = _connection(rep)
    if conn is None:
        raise ApiError(404, "Salesforce is not connected", "connection")
    connections.disconnect(db(), conn, "disconnected by the rep", now())
    return jsonify({"connected": False, "status": conn.status.value})
