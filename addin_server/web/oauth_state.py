"""The OAuth `state` of every flow that sends a rep's browser to a provider and back: web sign-in
(Google, Microsoft), connecting a mailbox (Google, Microsoft) and connecting Salesforce.

One scheme for all of them. `issue` makes a random state and a PKCE verifier; `keep` stores what
the callback needs (the verifier, the rep, msal's flow, where to go next) encrypted in Redis for
10 minutes under the state and a purpose; `take` gives it back once. A flow started in a browser
is also bound to that browser's session (the state waits in the session cookie too), so that
another browser cannot finish it (login CSRF); a flow started with an API token has no cookie and
is bound to the rep it names instead, which the caller checks. Nothing secret is in a cookie:
the verifier and msal's flow stay on the server, encrypted with the "oauth-state" key derived
from SECRET_KEY (which every process has; ENCRYPTION_KEYS is only needed to store grants).

`google_flow` is the Google OAuth client both Google flows use, with this scheme's verifier;
the Microsoft flows use mailboxes.graph.msal_app (msal keeps its own verifier in its flow).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from flask import session
from google_auth_oauthlib.flow import Flow

from addin_server.config import Settings
from addin_server.crypto import derive_key
from addin_server.runtime import runtime

Purpose = Literal["signin-google", "signin-microsoft", "connect-google", "connect-microsoft",
                  "connect-salesforce"]

TTL_SECONDS = 600  # between the click and the provider's answer
_MAX_STATE = 200


class StateRefused(Exception):
    """The answer's state is not one we issued for this purpose (or this browser), or it was
    used already, or it expired. The message is written for the rep."""


@dataclass(frozen=True)
class Issued:
    """A new flow's `state` (sent to the provider) and PKCE verifier (its S256 challenge is
    sent; the verifier itself only at the code exchange). msal makes its own verifier and keeps
    it in its flow dict: that flow ignores this one."""

    state: str
    verifier: str


@dataclass(frozen=True)
class Taken:
    """What `keep` stored, back at the callback."""

    data: dict[str, Any]
    verifier: str
    in_browser: bool  # bound to the browser session it started in


def issue() -> Issued:
    # 86 characters of the RFC 7636 alphabet (43 to 128 allowed).
    return Issued(state=secrets.token_urlsafe(32), verifier=secrets.token_urlsafe(64))


def _key(purpose: Purpose, state: str) -> str:
    return f"oauth-state:{purpose}:{state}"


def _session_key(purpose: Purpose) -> str:
    return f"oauth-state:{purpose}"


def _box() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(runtime().settings, "oauth-state")))


def keep(purpose: Purpose, issued: Issued, data: dict[str, Any], *, in_browser: bool) -> None:
    """Keep what the callback of this flow needs, for one use within TTL_SECONDS.
    `in_browser`: bind the flow to the current browser session."""
    record = {"data": data, "verifier": issued.verifier, "in_browser": in_browser}
    runtime().redis().set(_key(purpose, issued.state),
                          _box().encrypt(json.dumps(record).encode()), ex=TTL_SECONDS)
    if in_browser:
        session[_session_key(purpose)] = issued.state


def take(purpose: Purpose, state: str) -> Taken:
    """The flow behind a callback's `state`, once; StateRefused when it is not ours, used,
    expired, or bound to another browser session. It is spent even when refused: a state that
    reached the wrong browser cannot be tried again from the right one."""
    if not state or len(state) > _MAX_STATE:
        raise StateRefused("the answer carries no state: start again")
    raw = runtime().redis().getdel(_key(purpose, state))
    if raw is None:
        raise StateRefused("the state is unknown, already used or expired (10 minutes): "
                           "start again")
    try:
        record = json.loads(_box().decrypt(raw if isinstance(raw, bytes) else raw.encode()))
    except InvalidToken as exc:  # SECRET_KEY changed since the flow started
        raise StateRefused("the state is unknown, already used or expired (10 minutes): "
                           "start again") from exc
    in_browser = bool(record["in_browser"])
    if in_browser and session.pop(_session_key(purpose), None) != state:
        raise StateRefused("this was started in another browser session")
    return Taken(data=record["data"], verifier=str(record["verifier"]), in_browser=in_browser)


def google_flow(settings: Settings, scopes: list[str], redirect_uri: str, verifier: str,
                **kwargs: Any) -> Flow:
    """google-auth-oauthlib's flow for our Google OAuth client, with the PKCE `verifier` of
    `issue` (S256 challenge in the authorization URL, the verifier at the code exchange)."""
    config = {"web": {
        "client_id": settings.google_client_id, "client_secret": settings.google_client_secret,
        "auth_uri": settings.google_auth_uri, "token_uri": settings.google_token_uri}}
    return Flow.from_client_config(config, scopes=scopes, redirect_uri=redirect_uri,
                                   code_verifier=verifier, **kwargs)
