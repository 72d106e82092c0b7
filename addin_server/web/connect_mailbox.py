"""Connect a rep's Gmail or Microsoft 365 mailbox (OAuth authorisation-code flows with PKCE).

Who the rep is, on the start URL:
- in a browser, the web app's signed-in session (`session["rep_id"]`):
  `GET /connect/google` or `GET /connect/microsoft` redirects to the provider;
- from an API client, `POST /connect/<provider>` with `Authorization: Bearer <API token>`
  answers `{"authorization_url": ...}` for the client to open in the rep's browser.

The pending flow (PKCE verifier, msal's flow dict, the rep) is kept by web/oauth_state.py:
encrypted in Redis for 10 minutes under its `state`, used once, and a flow started from a
browser session must come back to the same session. The callback
(`/connect/<provider>/callback`, the redirect URI registered with Google / Entra) stores the
grant encrypted on the rep's Mailbox row.
"""

from __future__ import annotations

import html
import logging
import os
from typing import Any

import msal
import requests
from flask import Blueprint, g, redirect, request, session
from flask.typing import ResponseReturnValue
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from addin_server.accounts import rep_for_token
from addin_server.config import Settings
from addin_server.enums import MailboxProvider
from addin_server.mailboxes.connect import attach_mailbox
from addin_server.mailboxes.credentials import (
    MicrosoftGrant,
    MissingGrant,
    save_google,
    save_microsoft,
)
from addin_server.mailboxes.gmail import (
    GMAIL_ABSENCE_SCOPE,
    GOOGLE_SCOPES,
    REQUIRED_GMAIL_SCOPES,
    GmailMailbox,
    gmail_service,
)
from addin_server.mailboxes.graph import (
    MICROSOFT_ABSENCE_SCOPE,
    MICROSOFT_SCOPES,
    http_session,
    msal_app,
)
from addin_server.mailboxes.port import MailboxError
from addin_server.mailboxes.state import reconnect_mailbox
from addin_server.models import Organisation, Rep
from addin_server.runtime import runtime
from addin_server.web import oauth_state
from addin_server.web.common import bearer_token, db, now
from addin_server.web.oauth_state import Issued, Purpose, StateRefused, Taken, google_flow

log = logging.getLogger(__name__)

bp = Blueprint("connect", __name__, url_prefix="/connect")

_PROVIDERS = {"google": MailboxProvider.GMAIL, "microsoft": MailboxProvider.MICROSOFT}
_PURPOSES: dict[str, Purpose] = {"google": "connect-google", "microsoft": "connect-microsoft"}


class ConnectFailed(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _page(title: str, message: str, status: int = 200) -> ResponseReturnValue:
    body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}"
            f"</title><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            '<p><a href="/">Back to campaigns</a></p></body></html>')
    return body, status, {"Content-Type": "text/html; charset=utf-8",
                          "Cache-Control": "no-store"}


def _redirect_uri(settings: Settings, provider: str) -> str:
    return f"{settings.public_base_url}/connect/{provider}/callback"


# ---------------------------------------------------------------------- providers
def _google_flow(settings: Settings, verifier: str, absence: bool = False,
                 **kwargs: Any) -> Flow:
    scopes = [*GOOGLE_SCOPES, GMAIL_ABSENCE_SCOPE] if absence else GOOGLE_SCOPES
    return google_flow(settings, scopes, _redirect_uri(settings, "google"), verifier, **kwargs)


def _reads_absence(rep: Rep) -> bool:
    """The organisation reads its reps' vacation responders: one more scope is asked."""
    org = db().get(Organisation, rep.org_id)
    return bool(org and org.read_absence)


def _start_google(settings: Settings, issued: Issued, absence: bool
                  ) -> tuple[str, dict[str, Any]]:
    flow = _google_flow(settings, issued.verifier, absence)  # PKCE S256
    # offline: a refresh token for background sends; prompt=consent: Google returns a refresh
    # token only when the consent screen is shown, so every (re)connect shows it.
    url, _state = flow.authorization_url(access_type="offline", prompt="consent",
                                         state=issued.state)
    return url, {"absence": absence}


def _finish_google(settings: Settings, rep: Rep, pending: Taken) -> str:
    if request.args.get("error"):
        raise ConnectFailed(f"Google did not grant access ({request.args['error']})")
    code = request.args.get("code", "")
    if not code:
        raise ConnectFailed("Google's answer carries no authorisation code")
    flow = _google_flow(settings, pending.verifier, bool(pending.data.get("absence")),
                        state=request.args.get("state"))
    # Google may answer with the scopes in another form or order than asked; we check the
    # ones we need ourselves below instead of letting oauthlib refuse the answer.
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    try:
        # GOOGLE_CA_BUNDLE, as for every Google client (requests would otherwise use certifi).
        token = flow.fetch_token(code=code, verify=settings.google_ca_bundle or True)
    except OAuth2Error as exc:
        raise ConnectFailed(f"Google refused the sign-in: {exc.error}") from exc
    except requests.RequestException as exc:
        raise ConnectFailed("Google could not be reached: try again", 502) from exc
    scope = token.get("scope") or []
    granted = set(scope.split() if isinstance(scope, str) else scope)
    missing = REQUIRED_GMAIL_SCOPES - granted
    if missing:
        raise ConnectFailed("allow every permission on Google's screen (sending and reading "
                            "message headers are both needed): missing " +
                            ", ".join(sorted(s.rsplit("/", 1)[-1] for s in missing)))
    service = gmail_service(settings.gmail_api_endpoint, token["access_token"],
                            timeout=settings.mailbox_http_timeout,
                            ca_bundle=settings.google_ca_bundle)
    try:
        address = GmailMailbox(service, "").profile_address()
    except MailboxError as exc:
        raise ConnectFailed(f"could not read the Gmail address: {exc}", 502) from exc
    row = attach_mailbox(db(), settings, rep, MailboxProvider.GMAIL, address, now())
    try:
        save_google(settings, row, token.get("refresh_token"), sorted(granted))
    except MissingGrant as exc:
        raise ConnectFailed("Google sent no refresh token: remove this app's access in your "
                            "Google account, then connect again") from exc
    reconnect_mailbox(db(), row, now())  # connected; held and mailbox-less sends resume
    row.disconnect_notified_at = None  # a later disconnection is told again
    return address


def _start_microsoft(settings: Settings, issued: Issued, absence: bool
                     ) -> tuple[str, dict[str, Any]]:
    app = msal_app(settings, msal.SerializableTokenCache())
    scopes = [*MICROSOFT_SCOPES, MICROSOFT_ABSENCE_SCOPE] if absence else MICROSOFT_SCOPES
    # msal makes its own PKCE verifier and keeps it in the flow dict, kept with the state.
    flow = app.initiate_auth_code_flow(scopes,
                                       redirect_uri=_redirect_uri(settings, "microsoft"),
                                       prompt="select_account", state=issued.state)
    return str(flow["auth_uri"]), {"flow": flow}


def _finish_microsoft(settings: Settings, rep: Rep, pending: Taken) -> str:
    cache = msal.SerializableTokenCache()
    http = http_session(settings)
    try:
        app = msal_app(settings, cache, http)
        result = app.acquire_token_by_auth_code_flow(pending.data["flow"],
                                                     request.args.to_dict())
    except ValueError as exc:  # msal: state mismatch and the like
        raise ConnectFailed(f"the Microsoft sign-in answer does not match: {exc}") from exc
    except requests.RequestException as exc:
        raise ConnectFailed("Microsoft could not be reached: try again", 502) from exc
    if "error" in result:
        desc = str(result.get("error_description", "")).splitlines()[0][:200]
        raise ConnectFailed(f"Microsoft refused the sign-in: {result['error']}: {desc}")
    claims = result.get("id_token_claims") or {}
    username = str(claims.get("preferred_username", "")).lower()
    accounts = [a for a in app.get_accounts() if a.get("username", "").lower() == username]
    if not accounts:
        raise ConnectFailed("Microsoft returned no account for this sign-in")
    try:
        me = http.get(f"{settings.graph_base_url}/me", timeout=settings.mailbox_http_timeout,
                      headers={"Authorization": f"Bearer {result['access_token']}"})
        me.raise_for_status()
    except requests.RequestException as exc:
        raise ConnectFailed("could not read the mailbox address from Microsoft Graph",
                            502) from exc
    address = str(me.json().get("mail") or me.json().get("userPrincipalName") or username)
    row = attach_mailbox(db(), settings, rep, MailboxProvider.MICROSOFT, address, now())
    grant = MicrosoftGrant(cache.serialize(), str(accounts[0]["home_account_id"]), username)
    if not save_microsoft(settings, row, grant):
        raise ConnectFailed("Microsoft sent no refresh token (offline access): connect again")
    reconnect_mailbox(db(), row, now())  # connected; held and mailbox-less sends resume
    row.disconnect_notified_at = None  # a later disconnection is told again
    return address.lower()


_STARTS = {"google": _start_google, "microsoft": _start_microsoft}
_FINISHES = {"google": _finish_google, "microsoft": _finish_microsoft}


# ---------------------------------------------------------------------- routes
def _provider(name: str) -> str:
    if name not in _PROVIDERS:
        raise ConnectFailed(f"unknown provider {name!r}: use google or microsoft", 404)
    return name


def _configured(settings: Settings, provider: str) -> None:
    ids = {"google": settings.google_client_id, "microsoft": settings.microsoft_client_id}
    if not ids[provider]:
        raise ConnectFailed(f"{provider} sign-in is not configured on this server "
                            "(see docs/mailboxes.md)", 503)
    if not settings.encryption_keys:
        raise ConnectFailed("ENCRYPTION_KEYS is not set: grants cannot be stored", 503)


def _begin(provider: str, rep: Rep, bound_to_session: bool) -> str:
    settings = runtime().settings
    _configured(settings, provider)
    issued = oauth_state.issue()
    url, extra = _STARTS[provider](settings, issued, _reads_absence(rep))
    oauth_state.keep(_PURPOSES[provider], issued, {"rep_id": rep.id, **extra},
                     in_browser=bound_to_session)
    return url


@bp.get("/<provider>")
def start_in_browser(provider: str) -> ResponseReturnValue:
    try:
        name = _provider(provider)
        rep_id = session.get("rep_id")
        rep = db().get(Rep, rep_id) if rep_id is not None else None
        if rep is None:
            raise ConnectFailed("sign in first, then connect your mailbox", 401)
        return redirect(_begin(name, rep, bound_to_session=True))
    except ConnectFailed as exc:
        return _page("Cannot connect the mailbox", str(exc), exc.status)


@bp.post("/<provider>")
def start_from_api(provider: str) -> ResponseReturnValue:
    token = bearer_token()
    rep = rep_for_token(db(), token, now()) if token else None
    if rep is None:
        return {"errors": [{"field": "Authorization",
                            "message": "a valid API token is required"}]}, 401
    try:
        url = _begin(_provider(provider), rep, bound_to_session=False)
    except ConnectFailed as exc:
        return {"errors": [{"field": "provider", "message": str(exc)}]}, exc.status
    return {"authorization_url": url}, 200


@bp.get("/<provider>/callback")
def callback(provider: str) -> ResponseReturnValue:
    settings = runtime().settings
    try:
        name = _provider(provider)
        try:
            pending = oauth_state.take(_PURPOSES[name], request.args.get("state", ""))
        except StateRefused as exc:
            raise ConnectFailed(str(exc)) from exc
        if pending.in_browser and session.get("rep_id") != pending.data["rep_id"]:
            raise ConnectFailed("this sign-in was started in another browser session")
        rep = db().get(Rep, pending.data["rep_id"])
        if rep is None:
            raise ConnectFailed("the rep who started this sign-in no longer exists")
        address = _FINISHES[name](settings, rep, pending)
    except ConnectFailed as exc:
        g.rollback = True  # nothing half-written
        log.info("mailbox connection failed (%s): %s", provider, exc)
        return _page("Cannot connect the mailbox", str(exc), exc.status)
    log.info("rep %s connected %s mailbox %s", rep.id, name, address)
    return _page("Mailbox connected",
                 f"{address} is connected: campaign emails now go out from it.")
