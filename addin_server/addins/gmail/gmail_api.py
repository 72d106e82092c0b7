"""Gmail API calls made with the tokens of an add-on event (not the rep's stored grant).

Google gives every add-on request a short-lived user access token (`userOAuthToken`, scopes of
the add-on) and, with a message open or a compose window, a per-message token that rides in the
`X-Goog-Gmail-Access-Token` header. With `gmail.addons.current.action.compose` these create
drafts; with `gmail.addons.current.message.metadata` they read the open message's headers.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import google.auth.exceptions
import googleapiclient
import httplib2
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

ACCESS_TOKEN_HEADER = "X-Goog-Gmail-Access-Token"
COMPOSE_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"
METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"
TIMEOUT = 10


class GmailCallFailed(Exception):
    """A Gmail call failed; `message` is written for the rep. `missing_scope` when Google said
    the grant lacks a permission (the add-on then asks for it)."""

    def __init__(self, message: str, *, missing_scope: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.missing_scope = missing_scope
        self.status = status


@cache
def _gmail_document() -> str:
    # The discovery document shipped with google-api-python-client: no network, parsed once.
    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents/gmail.v1.json"
    return path.read_text()


def gmail_service(api_endpoint: str, user_token: str) -> Any:
    credentials = Credentials(token=user_token)
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=TIMEOUT))
    return build_from_document(_gmail_document(), http=http,
                               client_options={"api_endpoint": api_endpoint})


def _execute(request: Any, access_token: str) -> dict[str, Any]:
    if access_token:
        request.headers[ACCESS_TOKEN_HEADER] = access_token  # keep the library's own headers
    try:
        result: dict[str, Any] = request.execute(num_retries=0)  # never retried: not idempotent
    except HttpError as exc:
        raise _classify(exc) from exc
    except google.auth.exceptions.RefreshError as exc:
        # A 401 makes the transport try to refresh a token it cannot refresh (the event's
        # token has no refresh token): the token expired.
        raise GmailCallFailed("Your Gmail session expired. Close and reopen the add-on.",
                              status=401) from exc
    except (OSError, TimeoutError, httplib2.HttpLib2Error) as exc:
        raise GmailCallFailed("Gmail did not answer in time. Please try again.") from exc
    return result


def _reasons(exc: HttpError) -> set[str]:
    try:
        error = json.loads(exc.content.decode("utf-8", "replace")).get("error", {})
    except (ValueError, AttributeError):
        return set()
    found = {str(e.get("reason", "")) for e in error.get("errors", []) if isinstance(e, dict)}
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("reason"):
            found.add(str(detail["reason"]))
    if error.get("status"):
        found.add(str(error["status"]))
    return found


def _classify(exc: HttpError) -> GmailCallFailed:
    status = int(exc.resp.status)
    reasons = _reasons(exc)
    if status == 403 and reasons & {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                    "PERMISSION_DENIED"}:
        return GmailCallFailed("Gmail needs your permission to create drafts.",
                               missing_scope=True, status=status)
    if status == 401:
        return GmailCallFailed("Your Gmail session expired. Close and reopen the add-on.",
                               status=status)
    if status == 429 or status >= 500:
        return GmailCallFailed("Gmail is busy right now. Please try again in a minute.",
                               status=status)
    return GmailCallFailed(f"Gmail refused the request ({status}).", status=status)


def create_draft(
    api_endpoint: str, *, user_token: str, access_token: str, raw: bytes, thread_id: str | None
) -> tuple[str, str, str]:
    """Create a draft from a MIME message; returns (draft id, message id, thread id)."""
    message: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
    if thread_id:
        message["threadId"] = thread_id
    service = gmail_service(api_endpoint, user_token)
    result = _execute(service.users().drafts().create(userId="me", body={"message": message}),
                      access_token)
    msg = result.get("message") or {}
    return str(result.get("id", "")), str(msg.get("id", "")), str(msg.get("threadId", ""))


def message_headers(
    api_endpoint: str, *, user_token: str, access_token: str, message_id: str, names: list[str]
) -> dict[str, str]:
    """Some headers of the open message (`format=metadata`)."""
    service = gmail_service(api_endpoint, user_token)
    result = _execute(service.users().messages().get(
        userId="me", id=message_id, format="metadata", metadataHeaders=names), access_token)
    wanted = {n.lower() for n in names}
    found: dict[str, str] = {}
    for h in (result.get("payload") or {}).get("headers") or []:
        name = str(h.get("name", ""))
        if name.lower() in wanted:
            found.setdefault(name.lower(), str(h.get("value", "")))
    return found
