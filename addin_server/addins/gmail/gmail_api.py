"""Gmail API calls made with the tokens of an add-on event (not the rep's stored grant).

Google gives every add-on request a short-lived user access token (`userOAuthToken`, scopes of
the add-on) and, with a message open or a compose window, a per-message token that rides in the
`X-Goog-Gmail-Access-Token` header. With `gmail.addons.current.action.compose` these create
drafts; with `gmail.addons.current.message.metadata` they read the open message's headers.
"""

from __future__ import annotations

import base64
from typing import Any

from addin_server.mailboxes.gmail import MissingScope, call_classified, gmail_service
from addin_server.mailboxes.port import AuthError, MailboxError

ACCESS_TOKEN_HEADER = "X-Goog-Gmail-Access-Token"
COMPOSE_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"
METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"
TIMEOUT = 10  # seconds: the add-on's whole answer must reach Google within its deadline


class GmailCallFailed(Exception):
    """A Gmail call failed; `message` is written for the rep. `missing_scope` when Google said
    the grant lacks a permission (the add-on then asks for it)."""

    def __init__(self, message: str, *, missing_scope: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.missing_scope = missing_scope
        self.status = status


def _for_rep(error: MailboxError) -> GmailCallFailed:
    """The classified failure (mailboxes.gmail.classify) in the rep's words."""
    status = error.status or 0
    if isinstance(error, MissingScope):
        return GmailCallFailed("Gmail needs your permission to create drafts.",
                               missing_scope=True, status=status)
    if isinstance(error, AuthError) and status in (0, 401):
        # The event's token expired (it has no refresh token, so no refresh is attempted).
        return GmailCallFailed("Your Gmail session expired. Close and reopen the add-on.",
                               status=401)
    if status == 429 or status >= 500:
        return GmailCallFailed("Gmail is busy right now. Please try again in a minute.",
                               status=status)
    if not status:
        return GmailCallFailed("Gmail did not answer in time. Please try again.")
    return GmailCallFailed(f"Gmail refused the request ({status}).", status=status)


def _execute(request: Any, access_token: str) -> dict[str, Any]:
    if access_token:
        request.headers[ACCESS_TOKEN_HEADER] = access_token  # keep the library's own headers
    try:
        # never retried: creating a draft is not idempotent
        result: dict[str, Any] = call_classified(lambda: request.execute(num_retries=0))
    except MailboxError as exc:
        raise _for_rep(exc) from exc
    return result


def _service(api_endpoint: str, user_token: str, ca_bundle: str) -> Any:
    return gmail_service(api_endpoint, user_token, timeout=TIMEOUT, ca_bundle=ca_bundle)


def create_draft(
    api_endpoint: str, *, user_token: str, access_token: str, raw: bytes, thread_id: str | None,
    ca_bundle: str = "",
) -> tuple[str, str, str]:
    """Create a draft from a MIME message; returns (draft id, message id, thread id)."""
    message: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
    if thread_id:
        message["threadId"] = thread_id
    service = _service(api_endpoint, user_token, ca_bundle)
    result = _execute(service.users().drafts().create(userId="me", body={"message": message}),
                      access_token)
    msg = result.get("message") or {}
    return str(result.get("id", "")), str(msg.get("id", "")), str(msg.get("threadId", ""))


def message_headers(
    api_endpoint: str, *, user_token: str, access_token: str, message_id: str, names: list[str],
    ca_bundle: str = "",
) -> dict[str, str]:
    """Some headers of the open message (`format=metadata`)."""
    service = _service(api_endpoint, user_token, ca_bundle)
    result = _execute(service.users().messages().get(
        userId="me", id=message_id, format="metadata", metadataHeaders=names), access_token)
    wanted = {n.lower() for n in names}
    found: dict[str, str] = {}
    for h in (result.get("payload") or {}).get("headers") or []:
        name = str(h.get("name", ""))
        if name.lower() in wanted:
            found.setdefault(name.lower(), str(h.get("value", "")))
    return found
