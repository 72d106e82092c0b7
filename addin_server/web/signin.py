"""Signing in to the web app: Google or Microsoft (OpenID Connect), the development one-click
sign-in, the session cookie, and CSRF on every write.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure behind https). CSRF:
Flask-WTF checks the token on every non-GET request to the pages and to the REST API when the
API is called with the session cookie rather than a bearer token (the pages' own fetch calls
send it in `X-CSRFToken`); it then sets `g.csrf_ok`, which the API requires for session writes.
The check is not switched on app-wide, so that the add-in endpoints (which authenticate every
request with a bearer token and carry no cookie) are not affected.

The flows' `state` (with the PKCE verifier, the OpenID nonce, msal's flow and where to go next)
is web/oauth_state.py's: kept on the server, used once, bound to this browser session. The
mailbox-connect OAuth flows live elsewhere; this module shares only the client settings.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import msal
import requests
from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from google_auth_oauthlib.flow import Flow

from addin_server.accounts import (
    demo_rep,
    edov_verified,
    end_sessions,
    rep_for_identity,
    rep_for_session,
)
from addin_server.config import Settings
from addin_server.mailboxes.graph import msal_app
from addin_server.models import Rep
from addin_server.runtime import runtime
from addin_server.web import oauth_state
from addin_server.web.common import ApiError, bearer_token, db, now

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, template_folder="templates")
csrf = CSRFProtect()

# Blueprints whose writes always need the CSRF token.
PAGE_BLUEPRINTS = frozenset({"auth", "pages"})
GOOGLE_SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
]
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def init_csrf(app: Flask) -> None:
    """CSRF protection (checked by `_check_csrf` only where it applies) and the session's life."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # The token lives as long as the session: a page left open all day still works.
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    csrf.init_app(app)
    app.before_request(_check_csrf)


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.blueprint in PAGE_BLUEPRINTS:
        csrf.protect()  # CSRFError (400) when missing or wrong
        return
    if request.path.startswith("/api/") and not bearer_token() and "rep_id" in session:
        try:
            csrf.protect()
        except CSRFError as exc:
            raise ApiError(403, "the CSRF token is missing or invalid: reload the page",
                           "X-CSRFToken") from exc
        g.csrf_ok = True


# --- the signed-in rep ------------------------------------------------------------------------


def signed_in_rep() -> Rep | None:
    if "web_rep" not in g:
        # The cookie must be of the rep's current session version: sign-out ends it for good.
        g.web_rep = rep_for_session(db(), session.get("rep_id"),
                                    session.get("session_version"))
    rep: Rep | None = g.web_rep
    return rep


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if signed_in_rep() is None:
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def current_rep() -> Rep:
    rep = signed_in_rep()
    assert rep is not None, "use @login_required"
    return rep


def _sign_in(rep: Rep, next_path: str | None) -> ResponseReturnValue:
    target = _safe_next(next_path)
    session.clear()  # a fresh session (and CSRF token) for the new identity
    session["rep_id"] = rep.id
    session["session_version"] = rep.session_version
    session.permanent = True
    return redirect(target)


def _safe_next(target: str | None) -> str:
    """Only a path on this site; anything else (//evil, https://...) goes home."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.home")
    return target


def microsoft_signin_on(s: Settings) -> bool:
    """Fail closed: Microsoft sign-in needs a client and at least one allowed tenant
    (OUTLOOK_ALLOWED_TENANTS), since `/common` would let any tenant's account in."""
    return bool(s.microsoft_client_id) and any(t.strip() for t in s.outlook_allowed_tenants)


def _settings() -> Settings:
    return runtime().settings


def _http(ca_bundle: str) -> requests.Session:
    http = requests.Session()
    if ca_bundle:
        http.verify = ca_bundle
        # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment win over `verify`.
        http.trust_env = False
    return http


# --- pages ----------------------------------------------------------------------------------


@bp.get("/signin")
def signin() -> ResponseReturnValue:
    if signed_in_rep() is not None:
        return redirect(_safe_next(request.args.get("next")))
    s = _settings()
    return render_template(
        "signin.html",
        google=bool(s.google_client_id),
        microsoft=microsoft_signin_on(s),
        # Configured but no tenant allowed: the page says Microsoft sign-in is off.
        microsoft_off=bool(s.microsoft_client_id) and not microsoft_signin_on(s),
        dev_mode=s.dev_mode,
        demo_email=s.demo_rep_email,
        next=request.args.get("next", ""),
    )


@bp.post("/signout")
def signout() -> ResponseReturnValue:
    """Ends this session for good: the rep's session version moves on, so a copy of the cookie
    (another tab, a stolen one) stops working too; so do the rep's other web sessions."""
    rep = signed_in_rep()
    if rep is not None:
        end_sessions(rep)
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.signin"))


@bp.post("/signout/everywhere")
def signout_everywhere() -> ResponseReturnValue:
    """The "Sign out everywhere" button: every web session of the rep ends (the same as
    sign-out, said plainly; API tokens stay)."""
    rep = signed_in_rep()
    if rep is not None:
        end_sessions(rep)
    session.clear()
    flash("You are signed out everywhere.")
    return redirect(url_for("auth.signin"))


@bp.post("/signin/dev")
def signin_dev() -> ResponseReturnValue:
    """One click, as the demo rep: only when the service runs in local development mode."""
    s = _settings()
    if not s.dev_mode:
        abort(404)
    return _sign_in(demo_rep(db(), s, now()), request.form.get("next"))


def _refuse(message: str) -> ResponseReturnValue:
    flash(message, "error")
    return redirect(url_for("auth.signin"))


# --- Google ---------------------------------------------------------------------------------


def _google_flow(verifier: str) -> Flow:
    s = _settings()
    return oauth_state.google_flow(s, GOOGLE_SCOPES,
                                   s.public_base_url + url_for("auth.google_callback"), verifier)


@bp.post("/signin/google")
def signin_google() -> ResponseReturnValue:
    if not _settings().google_client_id:
        abort(404)
    issued = oauth_state.issue()
    nonce = secrets.token_urlsafe(16)
    url, _state = _google_flow(issued.verifier).authorization_url(
        prompt="select_account", nonce=nonce, state=issued.state)
    oauth_state.keep("signin-google", issued,
                     {"nonce": nonce, "next": request.form.get("next", "")}, in_browser=True)
    return redirect(url)


def _started(purpose: oauth_state.Purpose) -> oauth_state.Taken | None:
    try:
        return oauth_state.take(purpose, request.args.get("state", ""))
    except oauth_state.StateRefused:
        return None


@bp.get("/signin/google/callback")
def google_callback() -> ResponseReturnValue:
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    started = _started("signin-google")
    if started is None:
        return _refuse("The sign-in was not started here or has expired; try again.")
    if "code" not in request.args:
        return _refuse("Google did not sign you in: " + request.args.get("error", "no code"))
    s = _settings()
    flow = _google_flow(started.verifier)
    try:
        token = flow.fetch_token(code=request.args["code"],
                                 verify=s.google_ca_bundle or True)
        claims = id_token.verify_token(
            token["id_token"], Request(session=_http(s.google_ca_bundle)),
            audience=s.google_client_id, certs_url=s.google_certs_url)
    except Exception as exc:  # oauthlib, transport and token errors all mean "not signed in"
        log.warning("Google sign-in failed: %s: %s", type(exc).__name__, exc)
        return _refuse("Google sign-in failed; try again.")
    if claims.get("iss") not in GOOGLE_ISSUERS or claims.get("nonce") != started.data["nonce"]:
        return _refuse("Google sign-in failed: the identity token does not match.")
    if claims.get("email_verified") is not True:
        return _refuse("Your Google address is not verified.")
    sub, email = str(claims["sub"]), str(claims.get("email", ""))
    rep = rep_for_identity(db(), "google", sub, email, verified=True)
    if rep is None:
        return _refuse(f"No rep account uses {email}; ask your administrator to add you.")
    return _sign_in(rep, started.data["next"])


# --- Microsoft ------------------------------------------------------------------------------


def _msal_app() -> msal.ConfidentialClientApplication:
    # The mailbox adapter's client; this flow's cache is thrown away (only the ID token counts).
    return msal_app(_settings(), msal.SerializableTokenCache())


@bp.post("/signin/microsoft")
def signin_microsoft() -> ResponseReturnValue:
    if not microsoft_signin_on(_settings()):
        abort(404)
    issued = oauth_state.issue()
    # msal makes its own PKCE verifier and nonce and keeps them in its flow dict.
    flow = _msal_app().initiate_auth_code_flow(
        scopes=[], redirect_uri=_settings().public_base_url + url_for("auth.microsoft_callback"),
        prompt="select_account", state=issued.state,
    )
    oauth_state.keep("signin-microsoft", issued,
                     {"flow": flow, "next": request.form.get("next", "")}, in_browser=True)
    return redirect(flow["auth_uri"])


@bp.get("/signin/microsoft/callback")
def microsoft_callback() -> ResponseReturnValue:
    started = _started("signin-microsoft")
    if started is None:
        return _refuse("The sign-in was not started here or has expired; try again.")
    try:
        result = _msal_app().acquire_token_by_auth_code_flow(
            started.data["flow"], request.args.to_dict())
    except ValueError:  # msal: state mismatch or a reused flow
        return _refuse("Microsoft sign-in failed; try again.")
    claims = result.get("id_token_claims") if isinstance(result, dict) else None
    if not claims or "error" in result:
        return _refuse("Microsoft did not sign you in: "
                       + str(result.get("error_description") or result.get("error")))
    oid, tid = str(claims.get("oid", "")), str(claims.get("tid", ""))
    allowed = _settings().outlook_allowed_tenants
    if not oid or not tid or tid.lower() not in {t.strip().lower() for t in allowed}:
        return _refuse("This Microsoft account's organisation is not allowed here.")
    email = str(claims.get("email") or claims.get("preferred_username") or "")
    rep = rep_for_identity(db(), "microsoft", oid, email, verified=edov_verified(claims),
                           tenant=tid, allowed_tenants=allowed)
    if rep is None:
        return _refuse(f"No rep account uses {email}; ask your administrator to add you.")
    return _sign_in(rep, started.data["next"])
