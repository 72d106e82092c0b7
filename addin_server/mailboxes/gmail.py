"""The Gmail mailbox: google-api-python-client (static discovery, endpoint from settings) with
google-auth credentials built from the stored refresh token.

Sending is drafts.create then drafts.send: a consumed draft cannot be sent twice, which matters
because httplib2 itself re-sends a POST once when the connection drops before the response
(its stale-connection retry). Send calls run with num_retries=0; reads retry a little.
Every provider failure is mapped onto the classified errors of port.py, by the one classifier
below (the Gmail add-on's calls with its event tokens use it too).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any, TypeVar

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError, MediaUploadSizeError
from googleapiclient.http import MediaIoBaseUpload

from addin_server.config import Settings
from addin_server.mailboxes.credentials import MissingGrant, load_google
from addin_server.mailboxes.mime import build_mime, html_of
from addin_server.mailboxes.port import (
    SEND_ID_HEADER,
    AuthError,
    DraftRef,
    MailboxError,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    SentItem,
    SentRef,
    TransientError,
    UnavailableMailbox,
    Vacation,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from addin_server.models import Mailbox as MailboxRow
    from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

G = "https://www.googleapis.com/auth/"
# gmail.compose: drafts.create / drafts.send. gmail.metadata: read headers of sent and received
# messages (the real Message-ID after a send, our send-id header in Sent, history for replies).
# openid + email: who connected. See docs/mailboxes.md.
GOOGLE_SCOPES = ["openid", G + "userinfo.email", G + "gmail.compose", G + "gmail.metadata"]
REQUIRED_GMAIL_SCOPES = {G + "gmail.compose", G + "gmail.metadata"}
# users.settings.getVacation (the rep's vacation responder): asked for only when the
# organisation reads rep absence (guard/absence.py).
GMAIL_ABSENCE_SCOPE = G + "gmail.settings.basic"

# Gmail's sending-limit 429 names the time sending resumes, e.g.
# "User-rate limit exceeded.  Retry after 2026-11-24T14:05:00.000Z (Mail sending)".
_RETRY_AFTER_RE = re.compile(r"Retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)", re.I)
# How Google says a token lacks a scope: the legacy reason, and the ErrorInfo reason of the
# same answer.
_SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
_READ_RETRIES = 2
DEFAULT_TIMEOUT = 30.0  # seconds; the mailbox adapter passes settings.mailbox_http_timeout
_FIND_SCAN_LIMIT = 500
_SENT_ITEMS_LIMIT = 200
_SENT_ITEM_HEADERS = ["To", "Cc", "Subject", "Message-ID"]

T = TypeVar("T")


def gmail_service(
    api_endpoint: str, credentials: Credentials | str, *, timeout: float = DEFAULT_TIMEOUT,
    ca_bundle: str = "",
) -> Any:
    """A Gmail v1 client on the shipped discovery document (no network) talking to
    `api_endpoint`. `credentials` are google-auth credentials (a stored grant that refreshes)
    or a bare access token (an add-on event's, or the connect flow's fresh one). `ca_bundle`
    (GOOGLE_CA_BUNDLE) is the certificates trusted for both the API and the token refresh:
    AuthorizedHttp refreshes through the same httplib2.Http."""
    if isinstance(credentials, str):
        credentials = Credentials(token=credentials)
    # A bare access token cannot be refreshed: its 401 is the answer (the token expired), not a
    # reason to attempt a refresh that can only fail with a confusing RefreshError.
    refresh_codes = (http.client.UNAUTHORIZED,) if credentials.refresh_token else ()
    transport = httplib2.Http(timeout=timeout, ca_certs=ca_bundle or None)
    authorized = AuthorizedHttp(credentials, http=transport,
                                refresh_status_codes=refresh_codes)
    return build("gmail", "v1", http=authorized, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": api_endpoint})


def google_credentials(settings: Settings, refresh_token: str, scopes: list[str]) -> Credentials:
    return Credentials(None, refresh_token=refresh_token, client_id=settings.google_client_id,
                       client_secret=settings.google_client_secret,
                       token_uri=settings.google_token_uri, scopes=scopes)


def _retry_after_header(exc: HttpError) -> float | None:
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _reasons(exc: HttpError) -> set[str]:
    """Every reason Google gave: the legacy `errors[].reason`, the `details[].reason` of an
    ErrorInfo and the `status` (the client library's own `error_details` keeps only one of the
    two lists, and none when the body has no `message`)."""
    try:
        error = json.loads(exc.content.decode("utf-8", "replace")).get("error", {})
    except (ValueError, AttributeError):
        return set()
    if not isinstance(error, dict):
        return set()
    found = {str(e.get("reason", "")) for e in error.get("errors") or [] if isinstance(e, dict)}
    found |= {str(d["reason"]) for d in error.get("details") or []
              if isinstance(d, dict) and d.get("reason")}
    if error.get("status"):
        found.add(str(error["status"]))
    return found - {""}


class NotFound(PermanentError):
    """The thing named (a thread, a message) does not exist in the mailbox."""


class MissingScope(AuthError):
    """The grant lacks a permission the call needs: the rep grants it again."""


def classify(exc: Exception, *, sending: bool) -> MailboxError:
    """A Google failure as one of port.py's errors. `sending` is True for the call that sends:
    a timeout or 5xx there may mean Gmail accepted the message."""
    if isinstance(exc, MailboxError):
        return exc
    if isinstance(exc, RefreshError):
        text = str(exc.args[0]) if exc.args else str(exc)
        if "invalid_grant" in text:
            return AuthError(f"Google refused the refresh token ({text})")
        # invalid_client and the like: our OAuth client's configuration, not the rep's grant.
        return TransientError(f"Google token refresh failed: {text}", retry_after=600)
    if isinstance(exc, HttpError):
        return _classify_http(exc, sending=sending)
    if isinstance(exc, TransportError | httplib2.HttpLib2Error | http.client.HTTPException
                  | socket.timeout | TimeoutError | OSError):
        return TransientError(f"Gmail unreachable: {type(exc).__name__}: {exc}",
                              may_have_sent=sending)
    return TransientError(f"unexpected Gmail failure: {type(exc).__name__}: {exc}",
                          may_have_sent=sending)


def _classify_http(exc: HttpError, *, sending: bool) -> MailboxError:
    status = exc.resp.status
    message = f"Gmail {status}: {exc.reason}"
    reasons = _reasons(exc)
    retry_after = _retry_after_header(exc)
    if status == 401:
        return AuthError(message, status=status)
    if status == 429 or reasons & {"rateLimitExceeded", "userRateLimitExceeded"}:
        resume = _RETRY_AFTER_RE.search(str(exc.reason or ""))
        if resume:
            until = datetime.fromisoformat(resume.group(1).replace("Z", "+00:00"))
            return MailboxPaused(message, until=until.astimezone(UTC), status=status)
        return TransientError(message, retry_after=retry_after or 60, status=status)
    if status == 403:
        if "dailyLimitExceeded" in reasons:
            return TransientError(message, retry_after=retry_after or 3600, status=status)
        if reasons & _SCOPE_REASONS:
            return MissingScope(message, status=status)
        if reasons & {"domainPolicy", "authError"}:
            return AuthError(message, status=status)  # the admin blocked the app
        return PermanentError(message, status=status)
    if status == 404 and sending:
        # The draft is gone: sent already (a lost response, then a retry) or deleted.
        return TransientError(message, may_have_sent=True, status=status)
    if status == 404:
        return NotFound(message, status=status)
    if status >= 500:
        return TransientError(message, retry_after=retry_after, may_have_sent=sending,
                              status=status)
    return PermanentError(message, status=status)


class GmailMailbox:
    """A rep's Gmail mailbox (the Mailbox port)."""

    def __init__(self, service: Any, address: str) -> None:
        self.service = service
        self.address = address

    def _call(self, request: Any, *, sending: bool = False, read: bool = False) -> Any:
        try:
            # Never let the client retry a send (a retried send can duplicate an email) nor a
            # draft creation (the outbox retries, honouring Retry-After); reads may retry.
            return request.execute(num_retries=_READ_RETRIES if read else 0)
        except Exception as exc:  # classified below; nothing else escapes the adapter
            raise classify(exc, sending=sending) from exc

    def _users(self) -> Any:
        return self.service.users()

    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        mime = build_mime(message).as_bytes()
        body: dict[str, Any] = {"message": {}}
        if message.thread_id:
            body["message"]["threadId"] = message.thread_id
        try:
            draft = self._call(self._create_request(body, mime, upload=bool(
                message.attachments)))
        except NotFound:
            if not message.thread_id:
                raise
            # The earlier thread was deleted from the rep's mailbox: the reply still threads for
            # the recipient through its headers, so create it outside any thread.
            del body["message"]["threadId"]
            draft = self._call(self._create_request(body, mime, upload=bool(
                message.attachments)))
        inner = draft.get("message", {})
        return DraftRef(draft_id=draft["id"], message_id=inner.get("id"),
                        thread_id=inner.get("threadId"))

    def _create_request(self, body: dict[str, Any], mime: bytes, *, upload: bool) -> Any:
        """drafts.create. With attachments, a multipart upload (POST /upload/gmail/v1/users/
        me/drafts?uploadType=multipart: the JSON metadata, then the message as message/rfc822)
        that takes messages up to 35 MB; the base64url `raw` in a JSON body is for plain
        emails."""
        drafts = self._users().drafts()
        if upload:
            media = MediaIoBaseUpload(io.BytesIO(mime), mimetype="message/rfc822",
                                      resumable=False)
            try:
                return drafts.create(userId="me", body=body, media_body=media)
            except MediaUploadSizeError as exc:  # the client checks the limit itself
                raise PermanentError(f"the email is too large for Gmail: {exc}") from exc
        raw = base64.urlsafe_b64encode(mime).decode()
        return drafts.create(userId="me", body={"message": {**body["message"], "raw": raw}})

    def send_draft(self, draft: DraftRef) -> SentRef:
        sent = self._call(self._users().drafts().send(userId="me", body={"id": draft.draft_id}),
                          sending=True)
        message_id, thread_id = sent["id"], sent.get("threadId")
        # Gmail may replace the Message-ID we wrote: read the real one back (the next reply
        # threads on it). A failed read must not turn a sent email into an error.
        rfc_id: str | None = None
        sent_at: datetime | None = None
        try:
            meta = self._metadata(message_id, ["Message-ID"])
            rfc_id = _header(meta, "Message-ID")
            sent_at = _internal_date(meta)
        except MailboxError as exc:
            log.warning("sent Gmail message %s but could not read its Message-ID: %s",
                        message_id, exc)
        return SentRef(message_id=message_id, thread_id=thread_id, rfc_message_id=rfc_id,
                       sent_at=sent_at)

    def _metadata(self, message_id: str, names: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._users().messages().get(
            userId="me", id=message_id, format="metadata", metadataHeaders=names), read=True)
        return result

    def _sent_ids(self) -> Iterator[str]:
        """Ids of SENT messages, newest first (messages.list needs no `q`: gmail.metadata
        does not allow it)."""
        token: str | None = None
        seen = 0
        while seen < _FIND_SCAN_LIMIT:
            page = self._call(self._users().messages().list(
                userId="me", labelIds=["SENT"], maxResults=50, pageToken=token), read=True)
            for ref in page.get("messages", []):
                seen += 1
                yield ref["id"]
            token = page.get("nextPageToken")
            if not token:
                return

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        for message_id in self._sent_ids():
            meta = self._metadata(message_id, [SEND_ID_HEADER, "Message-ID"])
            sent_at = _internal_date(meta)
            if sent_at is not None and sent_at < since:
                return None  # newest first: everything after this is older
            if _header(meta, SEND_ID_HEADER) == send_id:
                return SentRef(message_id=message_id, thread_id=meta.get("threadId"),
                               rfc_message_id=_header(meta, "Message-ID"), sent_at=sent_at)
        return None

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        meta = self._metadata(message_id, names)
        out = {}
        for name in names:
            value = _header(meta, name)
            if value is not None:
                out[name] = value
        return out

    def profile_address(self) -> str:
        profile = self._call(self._users().getProfile(userId="me"), read=True)
        return str(profile["emailAddress"]).lower()

    def vacation(self) -> Vacation:
        """The rep's vacation responder (users.settings.getVacation; gmail.settings.basic)."""
        return vacation_from_gmail(self._call(
            self._users().settings().getVacation(userId="me"), read=True))

    def sent_items(self, since: datetime, *, with_bodies: bool = False) -> list[SentItem]:
        """Sent messages newest first, down to `since` (the SentReader port). The connected
        grant (gmail.metadata) cannot read bodies: `with_bodies` is for one that can
        (gmail.readonly); without it the task's composed body is what gets recorded."""
        items: list[SentItem] = []
        for message_id in self._sent_ids():
            meta = self._metadata(message_id, _SENT_ITEM_HEADERS)
            item = sent_item(meta)
            if item.sent_at < since or len(items) >= _SENT_ITEMS_LIMIT:
                break  # newest first: the rest is older
            if with_bodies:
                raw = self._call(self._users().messages().get(
                    userId="me", id=message_id, format="raw"), read=True)["raw"]
                item = sent_item(meta, html_of(base64.urlsafe_b64decode(
                    raw + "=" * (-len(raw) % 4))))
            items.append(item)
        return items


def vacation_from_gmail(data: dict[str, Any]) -> Vacation:
    """Gmail's VacationSettings: enableAutoReply, and startTime / endTime in milliseconds since
    the epoch (int64, sent as strings), each optional."""
    def at(value: Any) -> datetime | None:
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
        except (TypeError, ValueError):
            return None
    return Vacation(bool(data.get("enableAutoReply")), at(data.get("startTime")),
                    at(data.get("endTime")))


def _header(meta: dict[str, Any], name: str) -> str | None:
    for h in meta.get("payload", {}).get("headers", []):
        if str(h.get("name", "")).lower() == name.lower():
            return str(h.get("value", ""))
    return None


def _internal_date(meta: dict[str, Any]) -> datetime | None:
    value = meta.get("internalDate")
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None


def sent_item(meta: dict[str, Any], body_html: str = "") -> SentItem:
    """A Gmail `message` resource (format=metadata) as a SentItem."""
    to = tuple(a.lower() for _n, a in getaddresses([_header(meta, "To") or "",
                                                    _header(meta, "Cc") or ""]) if "@" in a)
    return SentItem(
        message_id=str(meta["id"]), to=to, subject=_header(meta, "Subject") or "",
        sent_at=_internal_date(meta) or datetime.fromtimestamp(0, UTC),
        thread_id=meta.get("threadId"), rfc_message_id=_header(meta, "Message-ID") or None,
        body_html=body_html)


def call_classified(fn: Callable[[], T], *, sending: bool = False) -> T:
    """Run a Google call outside the adapter (the connect flow) with the same classification."""
    try:
        return fn()
    except Exception as exc:
        raise classify(exc, sending=sending) from exc


def open_gmail(runtime: Runtime, session: Session, row: MailboxRow
               ) -> GmailMailbox | UnavailableMailbox:
    """The PROVIDERS factory: the adapter for a connected Gmail mailbox row (opening makes no
    network call; a missing grant surfaces as AuthError on the first call)."""
    settings = runtime.settings
    try:
        grant = load_google(settings, row)
    except MissingGrant as exc:
        return UnavailableMailbox(row.address, AuthError(str(exc)))
    creds = google_credentials(settings, grant.refresh_token, list(grant.scopes))
    service = gmail_service(settings.gmail_api_endpoint, creds,
                            timeout=settings.mailbox_http_timeout,
                            ca_bundle=settings.google_ca_bundle)
    return GmailMailbox(service, row.address)
