"""The Microsoft 365 mailbox: Microsoft Graph over `requests`, tokens from msal's per-mailbox
SerializableTokenCache (acquire_token_silent_with_error, so that invalid_grant and
interaction_required are seen rather than swallowed).

- Every call sends `Prefer: IdType="ImmutableId"`: the id of a draft stays the id of the sent
  copy after Exchange moves it to Sent Items.
- Every email is a draft created from MIME (POST /me/messages, Content-Type text/plain, the
  base64 RFC 5322 message; 201: id, internetMessageId, conversationId) then
  POST /me/messages/{id}/send (202): the MIME keeps List-Unsubscribe and the threading headers,
  which JSON drafts drop. A reply names the previous email's Message-ID (In-Reply-To,
  References) once that email is in Sent Items (or gone for good), never outside the thread.
- Our send-id header is in the MIME; find_sent filters Sent Items on it through its
  PS_INTERNET_HEADERS extended property.
- A 429 on the send call was not processed: the mailbox pauses until Retry-After.
- No client retry on the send call. 429/503 honour Retry-After.
- At most `graph_max_concurrency` (4, Exchange's per-mailbox limit) requests in flight per
  mailbox across every worker process: a Redis lease semaphore (RedisSlots below).
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msal
import requests
from sqlalchemy import inspect as sa_inspect

from addin_server.config import Settings
from addin_server.mailboxes.credentials import (
    MicrosoftGrant,
    MissingGrant,
    load_microsoft,
    save_microsoft,
)
from addin_server.mailboxes.mime import build_mime
from addin_server.mailboxes.port import (
    SEND_ID_HEADER,
    AuthError,
    DraftRef,
    FileAttachment,
    MailboxError,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    PreviousNotReady,
    SenderRefused,
    SentItem,
    SentRef,
    TransientError,
    UnavailableMailbox,
    Vacation,
)
from addin_server.models import Mailbox as MailboxRow

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session

    from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

# Delegated permissions. msal adds openid, profile and offline_access itself (and refuses them).
MICROSOFT_SCOPES = ["Mail.Send", "Mail.ReadWrite", "Mail.Read", "User.Read"]
# GET /me/mailboxSettings/automaticRepliesSetting (the rep's automatic replies): asked for only
# when the organisation reads rep absence (guard/absence.py).
MICROSOFT_ABSENCE_SCOPE = "MailboxSettings.Read"
PS_INTERNET_HEADERS = "{00020386-0000-0000-C000-000000000046}"
_AUTH_ERRORS = {"invalid_grant", "interaction_required", "consent_required"}
_LONG_PAUSE = 60.0  # a Retry-After at least this long pauses the whole mailbox
_DEFAULT_THROTTLE = 30.0  # a 429 on the send call without Retry-After
# A reply step waits for its previous email to show in Sent Items (Graph sends asynchronously,
# usually within seconds), checking again every PREVIOUS_RETRY_SECONDS; after
# PREVIOUS_GONE_AFTER it is taken as deleted and the reply is built from its headers.
PREVIOUS_RETRY_SECONDS = 30.0
PREVIOUS_GONE_AFTER = timedelta(minutes=15)
# Graph: an attachment below 3 MB goes in one POST (its bytes in the JSON); a larger one goes
# through an upload session, in chunks that are multiples of 320 KiB (at most 60 MiB each).
INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
UPLOAD_CHUNK = 10 * 320 * 1024


def http_session(settings: Settings) -> requests.Session:
    """The requests session for msal and Graph. With a CA bundle set (tests, private CAs), the
    environment's REQUESTS_CA_BUNDLE must not override it, hence trust_env=False."""
    session = requests.Session()
    if settings.microsoft_ca_bundle:
        session.trust_env = False
        session.verify = settings.microsoft_ca_bundle
    return session


def msal_app(settings: Settings, cache: msal.SerializableTokenCache,
             http: requests.Session | None = None) -> msal.ConfidentialClientApplication:
    kwargs: dict[str, Any] = {}
    if urlparse(settings.microsoft_authority).hostname != "login.microsoftonline.com":
        # A sovereign cloud or a test authority: no instance discovery against Microsoft.
        kwargs.update(validate_authority=False, instance_discovery=False)
    return msal.ConfidentialClientApplication(
        settings.microsoft_client_id, client_credential=settings.microsoft_client_secret,
        authority=settings.microsoft_authority, token_cache=cache,
        http_client=http or http_session(settings), **kwargs)


class MsalTokens:
    """Access tokens for one mailbox from its own msal cache; a changed cache (a refresh,
    a rotated refresh token) is handed to `on_change` to be stored encrypted."""

    def __init__(self, app: msal.ConfidentialClientApplication,
                 cache: msal.SerializableTokenCache, grant: MicrosoftGrant,
                 on_change: Callable[[MicrosoftGrant], None]) -> None:
        self.app, self.cache, self.grant, self.on_change = app, cache, grant, on_change

    def get(self, *, force_refresh: bool = False, scopes: list[str] | None = None) -> str:
        accounts = [a for a in self.app.get_accounts()
                    if a.get("home_account_id") == self.grant.home_account_id]
        if not accounts:
            raise AuthError("the stored Microsoft token cache holds no account for this mailbox")
        try:
            result = self.app.acquire_token_silent_with_error(
                scopes or MICROSOFT_SCOPES, account=accounts[0], force_refresh=force_refresh)
        except requests.RequestException as exc:
            raise TransientError(f"Microsoft sign-in unreachable: {exc}") from exc
        if not result:
            raise AuthError("no Microsoft token available: reconnect the mailbox")
        if "error" in result:
            code = str(result.get("error"))
            desc = str(result.get("error_description", "")).splitlines()[0][:300]
            if code in _AUTH_ERRORS or result.get("suberror") == "consent_required":
                raise AuthError(f"Microsoft refused the grant: {code}: {desc}")
            raise TransientError(f"Microsoft token error {code}: {desc}", retry_after=300)
        if self.cache.has_state_changed:
            self.on_change(MicrosoftGrant(self.cache.serialize(), self.grant.home_account_id,
                                          self.grant.username))
            self.cache.has_state_changed = False
        return str(result["access_token"])


_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class RedisSlots:
    """A counting semaphore shared by every worker: at most `limit` holders of `key`. A slot
    is a lease (a crashed holder frees it after `lease_seconds`)."""

    def __init__(self, redis: Redis, key: str, limit: int, *, lease_seconds: float = 120,
                 wait_seconds: float = 30, poll_seconds: float = 0.05) -> None:
        self.redis, self.key, self.limit = redis, key, limit
        self.lease_seconds, self.wait_seconds, self.poll_seconds = (
            lease_seconds, wait_seconds, poll_seconds)
        self._script = redis.register_script(_ACQUIRE)

    def _try(self, member: str) -> bool:
        now = time.time()
        got = self._script(keys=[self.key], args=[
            now, self.limit, now + self.lease_seconds, member, int(self.lease_seconds * 2000)])
        return bool(got)

    @contextmanager
    def slot(self) -> Iterator[None]:
        member = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        while not self._try(member):
            if time.monotonic() >= deadline:
                raise TransientError(f"mailbox busy: {self.limit} Graph requests in flight",
                                     retry_after=5)
            time.sleep(self.poll_seconds)
        try:
            yield
        finally:
            self.redis.zrem(self.key, member)


class NoSlots:
    """No limit (a single-process tool, or a test's control)."""

    @contextmanager
    def slot(self) -> Iterator[None]:
        yield


class NotFound(PermanentError):
    """The message named does not exist in the mailbox."""


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_code(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _error_message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", {}).get("message", ""))[:500]
    except (ValueError, AttributeError):
        return ""


# A sender on Microsoft's restricted list: Exchange's words in the error's message (the same
# as in its NDR), or the submission-blocked code. Microsoft documents no Graph wire format for
# this case; these are the texts its transport gives (docs/deliverability.md).
_RESTRICTED_TEXTS = ("5.1.8", "bad outbound sender")
_RESTRICTED_CODES = ("ErrorMessageSubmissionBlocked",)


def _restricted(code: str, text: str) -> bool:
    lowered = text.lower()
    return code in _RESTRICTED_CODES or any(t in lowered for t in _RESTRICTED_TEXTS)


class GraphMailbox:
    """A rep's Microsoft 365 mailbox (the Mailbox port)."""

    def __init__(self, *, base_url: str, address: str, tokens: MsalTokens,
                 http: requests.Session, timeout: float, slots: RedisSlots | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.base_url = base_url.rstrip("/")
        self.address = address
        self.tokens, self.http, self.timeout = tokens, http, timeout
        self.slots: RedisSlots | NoSlots = slots or NoSlots()
        self.clock = clock

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, *, sending: bool = False,
                 json: Any = None, params: dict[str, str] | None = None,
                 content: bytes | None = None) -> requests.Response:
        try:
            with self.slots.slot():
                resp = self._once(method, path, json=json, params=params, content=content,
                                  force=False)
                if resp.status_code == 401:
                    # The access token was refused before anything happened: refresh, retry once.
                    resp = self._once(method, path, json=json, params=params, content=content,
                                      force=True)
        except MailboxError:
            raise
        except requests.RequestException as exc:
            raise TransientError(f"Graph unreachable: {type(exc).__name__}: {exc}",
                                 may_have_sent=sending) from exc
        if resp.status_code >= 400:
            raise self._classify(resp, sending=sending)
        return resp

    def _once(self, method: str, path: str, *, json: Any, params: dict[str, str] | None,
              content: bytes | None, force: bool) -> requests.Response:
        headers = {"Authorization": "Bearer " + self.tokens.get(force_refresh=force),
                   "Prefer": 'IdType="ImmutableId"'}
        if content is not None:  # a MIME message, base64: Graph wants it as text/plain
            headers["Content-Type"] = "text/plain"
        return self.http.request(method, self.base_url + path, json=json, params=params,
                                 data=content, headers=headers, timeout=self.timeout)

    def _classify(self, resp: requests.Response, *, sending: bool) -> MailboxError:
        status, code = resp.status_code, _error_code(resp)
        message = f"Graph {status} {code}".strip()
        retry_after = _retry_after(resp)
        text = _error_message(resp)
        if 400 <= status < 500 and status != 429 and _restricted(code, text):
            # Nothing went out, and nothing will until an Exchange admin frees the sender.
            return SenderRefused(f"{message}: {text}", status=status)
        if status == 401:
            return AuthError(message)
        if status == 403:
            if code in ("ErrorAccessDenied", "Authorization_RequestDenied", "AccessDenied"):
                return AuthError(message)  # a permission was withdrawn
            return PermanentError(message)
        if status == 429 and sending:
            # Graph does not process a throttled request: nothing went out. Pause the mailbox
            # until Retry-After (the draft is sent then), instead of reconciling and retrying
            # into the throttle.
            wait = retry_after if retry_after is not None else _DEFAULT_THROTTLE
            return MailboxPaused(message, until=self.clock() + timedelta(seconds=wait))
        if status in (429, 503, 504) or status >= 500:
            # A failed send call may have been processed anyway: reconcile first.
            if sending:
                return TransientError(message, retry_after=retry_after, may_have_sent=True)
            if status == 429 and retry_after is not None and retry_after >= _LONG_PAUSE:
                return MailboxPaused(message, until=self.clock() + timedelta(seconds=retry_after))
            return TransientError(message, retry_after=retry_after)
        if status == 404 and sending:
            return TransientError(message, may_have_sent=True)  # the draft is gone: sent?
        if status == 404:
            return NotFound(message)
        return PermanentError(message)

    # ------------------------------------------------------------------ the port
    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        """A draft created from MIME (POST /me/messages, text/plain, the base64 RFC 5322
        message): JSON drafts keep only x- headers, MIME keeps List-Unsubscribe,
        List-Unsubscribe-Post, our send id and the threading headers, as on Gmail. A reply is
        built from what we know (In-Reply-To / References of the previous real Message-ID),
        once the previous email is in Sent Items (or gone for good)."""
        if message.reply_to_provider_id:
            self._previous_ready(message)
        # Graph takes at most 4 MB in a request: attachments go by their own calls below.
        raw = build_mime(message, with_attachments=False).as_bytes()
        draft = self._request("POST", "/me/messages", content=base64.b64encode(raw)).json()
        for item in message.attachments:
            self._attach(draft["id"], item)
        # Exchange may keep our Message-ID or assign its own: the draft says which.
        return DraftRef(draft_id=draft["id"], message_id=draft["id"],
                        rfc_message_id=draft.get("internetMessageId"),
                        thread_id=draft.get("conversationId"))

    def _attach(self, draft_id: str, item: FileAttachment) -> None:
        """One attachment on the draft: below 3 MB inline (a fileAttachment with its bytes in
        base64), else through an upload session (PUT byte ranges to its pre-authorised URL).
        A failure leaves an unsent draft, never a sent email without its attachment."""
        path = f"/me/messages/{quote(draft_id, safe='')}/attachments"
        if len(item.data) < INLINE_ATTACHMENT_LIMIT:
            self._request("POST", path, json={
                "@odata.type": "#microsoft.graph.fileAttachment", "name": item.filename,
                "contentType": item.content_type,
                "contentBytes": base64.b64encode(item.data).decode()})
            return
        session = self._request("POST", path + "/createUploadSession", json={
            "AttachmentItem": {"attachmentType": "file", "name": item.filename,
                               "size": len(item.data), "contentType": item.content_type}}).json()
        url, total = str(session["uploadUrl"]), len(item.data)
        start = 0
        while start < total:
            chunk = item.data[start:start + UPLOAD_CHUNK]
            end = start + len(chunk) - 1
            resp = self._upload_put(url, chunk, f"bytes {start}-{end}/{total}")
            if resp.status_code == 201:
                return
            ranges = resp.json().get("nextExpectedRanges") or []
            # The service names the next byte it wants (after a lost chunk, an earlier one).
            start = int(str(ranges[0]).split("-")[0]) if ranges else end + 1
        raise TransientError(f"the upload of {item.filename!r} did not complete")

    def _upload_put(self, url: str, chunk: bytes, content_range: str) -> requests.Response:
        """A PUT to an upload session's URL: it carries its own authorisation, and Graph
        refuses a request that adds an Authorization header to it."""
        try:
            with self.slots.slot():
                resp = self.http.put(url, data=chunk, headers={
                    "Content-Range": content_range, "Content-Length": str(len(chunk)),
                    "Content-Type": "application/octet-stream"}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"Graph unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise self._classify(resp, sending=False)
        return resp

    def _previous_ready(self, message: OutgoingMessage) -> None:
        """Raise PreviousNotReady while the reply's previous email is not in the mailbox yet;
        past PREVIOUS_GONE_AFTER it is taken as gone for good (deleted) and the reply goes
        out from what we know."""
        assert message.reply_to_provider_id is not None
        try:
            self._request("GET", f"/me/messages/{quote(message.reply_to_provider_id, safe='')}",
                          params={"$select": "id"})
            return
        except NotFound:
            pass
        sent_at = message.reply_to_sent_at
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)  # stored as UTC
        if sent_at is not None and self.clock() - sent_at < PREVIOUS_GONE_AFTER:
            raise PreviousNotReady(
                "waiting for the previous email to reach Sent Items",
                retry_after=PREVIOUS_RETRY_SECONDS)
        log.warning("the previous email is gone from the mailbox: replying from its headers")

    def send_draft(self, draft: DraftRef) -> SentRef:
        self._request("POST", f"/me/messages/{quote(draft.draft_id, safe='')}/send",
                      sending=True)
        # The immutable id and internetMessageId survive the move to Sent Items.
        return SentRef(message_id=draft.draft_id, thread_id=draft.thread_id,
                       rfc_message_id=draft.rfc_message_id, sent_at=self.clock())

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        flt = (f"singleValueExtendedProperties/Any(ep: ep/id eq 'String {PS_INTERNET_HEADERS}"
               f" Name {SEND_ID_HEADER}' and ep/value eq '{send_id.replace(chr(39), '')}')")
        found = self._request("GET", "/me/mailFolders/sentitems/messages", params={
            "$filter": flt, "$select": "id,internetMessageId,conversationId,sentDateTime",
            "$top": "5"}).json().get("value", [])
        for item in found:
            sent_at = _parse_time(item.get("sentDateTime"))
            if sent_at is None or sent_at >= since:
                return SentRef(message_id=item["id"], thread_id=item.get("conversationId"),
                               rfc_message_id=item.get("internetMessageId"), sent_at=sent_at)
        return None

    def find_by_internet_message_id(self, rfc_message_id: str) -> SentRef | None:
        found = self._request("GET", "/me/mailFolders/sentitems/messages", params={
            "$filter": f"internetMessageId eq '{rfc_message_id.replace(chr(39), '')}'",
            "$select": "id,internetMessageId,conversationId,sentDateTime"}).json()["value"]
        if not found:
            return None
        item = found[0]
        return SentRef(message_id=item["id"], thread_id=item.get("conversationId"),
                       rfc_message_id=item.get("internetMessageId"),
                       sent_at=_parse_time(item.get("sentDateTime")))

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        item = self._request("GET", f"/me/messages/{quote(message_id, safe='')}",
                             params={"$select": "internetMessageHeaders"}).json()
        wanted = {n.lower(): n for n in names}
        return {wanted[h["name"].lower()]: h["value"]
                for h in item.get("internetMessageHeaders", []) if h["name"].lower() in wanted}

    def me_address(self) -> str:
        me = self._request("GET", "/me").json()
        return str(me.get("mail") or me.get("userPrincipalName")).lower()

    def vacation(self) -> Vacation:
        """The rep's automatic replies (MailboxSettings.Read, on a token of its own: a grant
        without that scope fails here only, never the sends)."""
        token = self.tokens.get(scopes=[*MICROSOFT_SCOPES, MICROSOFT_ABSENCE_SCOPE])
        try:
            resp = self.http.get(
                self.base_url + "/me/mailboxSettings/automaticRepliesSetting",
                headers={"Authorization": "Bearer " + token,
                         "Prefer": 'outlook.timezone="UTC"'}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"Graph unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise self._classify(resp, sending=False)
        return vacation_from_graph(resp.json())

    def sent_items(self, since: datetime, *, limit: int = 100) -> list[SentItem]:
        """Messages in Sent Items sent at or after `since`, newest first (the SentReader port:
        email tasks the rep wrote in Outlook complete from them)."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found = self._request("GET", "/me/mailFolders/sentitems/messages", params={
            "$filter": f"sentDateTime ge {stamp}", "$orderby": "sentDateTime desc",
            "$select": "id,subject,toRecipients,sentDateTime,conversationId,"
                       "internetMessageId,body",
            "$top": str(limit)}).json()
        return sent_items_from_graph(found.get("value", []))


def sent_items_from_graph(messages: Sequence[dict[str, Any]]) -> list[SentItem]:
    """Graph `message` resources (as listed from Sent Items) as SentItems; a message without a
    sent time or an id (a draft) is left out."""
    items = []
    for m in messages:
        when, mid = m.get("sentDateTime"), m.get("id")
        if not isinstance(when, str) or not isinstance(mid, str):
            continue
        to = tuple(
            str(r["emailAddress"]["address"]) for r in m.get("toRecipients") or []
            if isinstance(r, dict) and (r.get("emailAddress") or {}).get("address")
        )
        body = m.get("body") or {}
        items.append(SentItem(
            message_id=mid, to=to, subject=str(m.get("subject") or ""),
            sent_at=datetime.fromisoformat(when.replace("Z", "+00:00")),
            thread_id=m.get("conversationId"), rfc_message_id=m.get("internetMessageId"),
            body_html=str(body.get("content") or "") if body.get("contentType", "").lower()
            == "html" else "",
        ))
    return items


def _graph_time(value: Any) -> datetime | None:
    """A dateTimeTimeZone ({dateTime, timeZone}). We ask for UTC (Prefer: outlook.timezone);
    an IANA zone is read as such; another name (a Windows zone) is taken as UTC."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return None
    text = str(value["dateTime"])
    head, _, frac = text.partition(".")
    naive = datetime.fromisoformat(head + ("." + frac[:6] if frac else ""))
    zone = str(value.get("timeZone") or "UTC")
    try:
        tz: Any = UTC if zone.upper() in ("UTC", "Z") else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return naive.replace(tzinfo=tz).astimezone(UTC)


def vacation_from_graph(data: dict[str, Any]) -> Vacation:
    """automaticRepliesSetting: status disabled, alwaysEnabled or scheduled (then between
    scheduledStartDateTime and scheduledEndDateTime)."""
    status = str(data.get("status") or "disabled")
    if status == "alwaysEnabled":
        return Vacation(True)
    if status == "scheduled":
        return Vacation(True, _graph_time(data.get("scheduledStartDateTime")),
                        _graph_time(data.get("scheduledEndDateTime")))
    return Vacation(False)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def open_microsoft(runtime: Runtime, session: Session, row: MailboxRow
                   ) -> GraphMailbox | UnavailableMailbox:
    """The PROVIDERS factory. A refreshed (rotated) msal cache is stored at once. Failures while
    opening (no grant, the authority unreachable) surface on the first call."""
    settings = runtime.settings
    try:
        grant = load_microsoft(settings, row)
    except MissingGrant as exc:
        return UnavailableMailbox(row.address, AuthError(str(exc)))
    cache = msal.SerializableTokenCache()
    cache.deserialize(grant.cache)
    http = http_session(settings)

    def store(new: MicrosoftGrant) -> None:
        save_microsoft(settings, row, new)
        if sa_inspect(row).session is not None:
            return  # attached to the caller's live session, which commits it
        # A detached row (the pipeline opens the adapter in a session it closes before
        # sending): store the rotated refresh token at once, in a transaction of its own.
        with runtime.sessions.begin() as own:
            fresh = own.get(MailboxRow, row.id)
            if fresh is not None:
                save_microsoft(settings, fresh, new)

    try:
        app = msal_app(settings, cache, http)  # fetches the authority's metadata
    except (requests.RequestException, ValueError) as exc:
        return UnavailableMailbox(row.address,
                                  TransientError(f"Microsoft sign-in unreachable: {exc}"))
    tokens = MsalTokens(app, cache, grant, store)
    slots = RedisSlots(runtime.redis(), f"graph-slots:{row.id}", settings.graph_max_concurrency)
    return GraphMailbox(base_url=settings.graph_base_url, address=row.address, tokens=tokens,
                        http=http, timeout=settings.mailbox_http_timeout, slots=slots,
                        clock=runtime.now)
