"""A fake Microsoft: an Entra-like authority (what msal calls, and the signing keys that verify
its access tokens) and Graph mail (v1.0 wire format), served together over TLS with a
self-signed certificate (msal refuses an http authority; PyJWKClient alone is happy with http).

Point the real libraries at it:
- msal ConfidentialClientApplication(authority=fake.authority, validate_authority=False,
  instance_discovery=False, http_client=<requests.Session trust_env=False, verify=fake.ca_file>);
- requests to `fake.graph_base_url` with `verify=fake.ca_file`.

What it models:
- discovery (`/<tenant>/v2.0/.well-known/openid-configuration`), the token endpoint (auth code
  with PKCE S256 and the hashed nonce echoed in an unsigned id_token; refresh_token grants that
  rotate the refresh token; `invalid_grant` once revoked, `interaction_required` on demand);
- Graph: GET /me; POST /me/messages (201 draft with id, internetMessageId, conversationId);
  POST /me/messages with Content-Type text/plain (a base64 MIME message: a draft keeping its
  headers, List-Unsubscribe included; filed in the conversation its In-Reply-To names);
  POST /me/messages/{id}/send (202; a draft is consumed, a second send is 404; the sent copy
  shows in Sent Items after `sent_items_delay`);
  POST /me/messages/{id}/createReply (comment or message.body, not both: 400; without
  message.toRecipients the reply goes to the original sender, i.e. the rep for their own sent
  message); PATCH /me/messages/{id}; GET /me/messages/{id} and
  /me/mailFolders/{folder}/messages with $filter on internetMessageId, conversationId and the
  PS_INTERNET_HEADERS extended property of a custom header; $select=internetMessageHeaders
  (for mail from outside: its headers as received, Content-Type included); GET
  /me/messages/{id}/$value (the MIME);
- ids: with `Prefer: IdType="ImmutableId"` ids survive the move from Drafts to Sent Items;
  without it the sent copy gets a new id (the old one 404s), as Exchange does;
- Cc and Bcc: from the JSON (ccRecipients, bccRecipients) or the MIME (Cc, Bcc headers); every
  recipient gets a copy, none of them with a Bcc header;
- attachments on a draft: POST /me/messages/{id}/attachments (a fileAttachment, its bytes in
  contentBytes: under 3 MB, else 413 ErrorRequestEntityTooLarge), GET of that list, and
  POST .../attachments/createUploadSession (3 MB to 150 MB) whose `uploadUrl` (on this fake,
  pre-authorised: an Authorization header there is refused 401) takes PUTs of byte ranges
  (Content-Range, at most 4 MB each, in order: 200 with nextExpectedRanges, then 201 with a
  Location when the last byte is in); the delivered MIME carries them (multipart/mixed);
- throttling: more than 4 requests in flight for one mailbox get 429 MailboxConcurrency;
- delivery: the recipient's mailbox gets an RFC 5322 copy (Message-ID, In-Reply-To, References,
  our header) so that `recipient_view()` shows what a mail client would;
- the tenant's signing keys (`/<tenant>/discovery/v2.0/keys`, JWKS; only the `published` ones)
  and `token()`: an access token for our own API (audience API_ID, scope API_SCOPE), signed
  RS256 as Entra signs the token Office gives the Outlook add-in's pane.

- mailbox settings: GET /me/mailboxSettings/automaticRepliesSetting (status disabled,
  alwaysEnabled or scheduled, scheduledStart/EndDateTime as {dateTime, timeZone}), only with
  a token carrying MailboxSettings.Read (else 403 ErrorAccessDenied); a refresh asking for a
  scope the user never consented to is refused (AADSTS65001, consent_required);

Test controls: `consent()`, `revoke()`, `require_interaction()`, `fail()`, `drop_after()`,
`set_automatic_replies()`,
`hold()`, `mailbox()`, `recipient_view()`, `token()`, `keys` / `published`, `calls`,
`requests` (every path asked for), `max_in_flight`.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlparse
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request, Response

from tests.fakes.mail import Delivered, RecipientView, msg_ids, parse

PS_INTERNET_HEADERS = "{00020386-0000-0000-C000-000000000046}"
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
# Our API as registered in Entra (the Outlook add-in's audience) and the scope it exposes.
API_ID = "6e1f4a52-93c3-4c7d-9d0a-3b3f2f1e0c11"
API_SCOPE = "access_as_user"
# The issuer of v2 access tokens, per tenant: the real one, as our settings name it.
ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class GraphMessage:
    immutable_id: str
    rest_id: str
    folder: str  # drafts | sentitems | inbox
    subject: str
    body_type: str
    body: str
    from_addr: str
    from_name: str
    to: list[tuple[str, str]]  # (name, address)
    conversation_id: str
    internet_message_id: str
    custom_headers: list[tuple[str, str]] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    sent: datetime | None = None
    raw: bytes | None = None  # the RFC 5322 copy a recipient received
    visible_at: datetime | None = None  # a sent copy shows in Sent Items from then on
    cc: list[tuple[str, str]] = field(default_factory=list)
    bcc: list[tuple[str, str]] = field(default_factory=list)
    # (id, name, content type, bytes)
    attachments: list[tuple[str, str, str, bytes]] = field(default_factory=list)

    @property
    def is_draft(self) -> bool:
        return self.folder == "drafts"

    def visible(self, now: datetime) -> bool:
        """Not a sent copy still on its way to Sent Items."""
        return self.visible_at is None or now >= self.visible_at

    def header(self, name: str) -> str | None:
        for k, v in self.custom_headers:
            if k.lower() == name.lower():
                return v
        return None

    def transport_headers(self) -> list[tuple[str, str]]:
        """What Exchange shows in internetMessageHeaders of a sent or received message: for
        mail that arrived from outside, its headers as received (Content-Type included)."""
        if self.folder == "inbox" and self.raw is not None:
            return [(k, " ".join(str(v).split())) for k, v in parse(self.raw).items()]
        out = [("Message-ID", self.internet_message_id), ("Subject", self.subject),
               ("From", f"{self.from_name} <{self.from_addr}>"),
               ("To", ", ".join(a for _, a in self.to))]
        if self.sent:
            out.append(("Date", format_datetime(self.sent)))
        if self.in_reply_to:
            out.append(("In-Reply-To", self.in_reply_to))
        if self.references:
            out.append(("References", " ".join(self.references)))
        return out + self.custom_headers

    def as_mime(self) -> bytes:
        msg = EmailMessage()
        user, _, domain = self.from_addr.partition("@")
        msg["From"] = Address(self.from_name, user, domain)
        msg["To"] = ", ".join(a for _, a in self.to)
        if self.cc:
            msg["Cc"] = ", ".join(a for _, a in self.cc)
        msg["Subject"] = self.subject
        msg["Message-ID"] = self.internet_message_id
        msg["Date"] = format_datetime(self.sent or datetime.now(UTC))
        if self.in_reply_to:
            msg["In-Reply-To"] = self.in_reply_to
        if self.references:
            msg["References"] = " ".join(self.references)
        for k, v in self.custom_headers:
            msg[k] = v
        text = re.sub(r"<[^>]+>", " ", self.body) if self.body_type == "html" else self.body
        msg.set_content(" ".join(html_lib.unescape(text).split()) or " ")
        if self.body_type == "html":
            msg.add_alternative(self.body, subtype="html")
        for _id, name, ctype, data in self.attachments:
            main, _, sub = ctype.partition("/")
            msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
        return msg.as_bytes()


@dataclass
class GraphMailbox:
    address: str
    display_name: str
    user_id: str
    messages: dict[str, GraphMessage] = field(default_factory=dict)  # immutable id -> message
    in_flight: int = 0
    # mailboxSettings/automaticRepliesSetting as Graph returns it
    auto_replies: dict[str, Any] = field(default_factory=lambda: {
        "status": "disabled", "externalAudience": "all",
        "scheduledStartDateTime": {"dateTime": "2026-01-01T00:00:00.0000000", "timeZone": "UTC"},
        "scheduledEndDateTime": {"dateTime": "2026-01-02T00:00:00.0000000", "timeZone": "UTC"},
        "internalReplyMessage": "", "externalReplyMessage": ""})
    delta_generation: int = 0  # delta tokens of an earlier generation are forgotten (410)

    def folder(self, name: str) -> list[GraphMessage]:
        return [m for m in self.messages.values() if m.folder == name]

    def find(self, any_id: str) -> GraphMessage | None:
        found = self.messages.get(any_id)
        if found is not None:
            return found
        return next((m for m in self.messages.values() if m.rest_id == any_id), None)


@dataclass
class _User:
    address: str
    oid: str
    interaction_required: bool = False
    # What the user consented to at sign-in: a refresh asking for more is refused
    # (AADSTS65001, consent_required), as Entra does.
    consented: set[str] = field(default_factory=set)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": str(self), "innerError": {
            "date": _iso(datetime.now(UTC)), "request-id": secrets.token_hex(8)}}}
        return Response(json.dumps(body), status=self.status, headers=self.headers,
                        mimetype="application/json")


class MicrosoftFake:
    """State and WSGI app of the fake authority + Graph. Thread-safe."""

    def __init__(self, *, client_id: str = "11111111-2222-3333-4444-555555555555",
                 client_secret: str = "test-ms-secret", tenant: str = TENANT) -> None:
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        # ID tokens carry the optional claim xms_edov (the email domain's owner is verified).
        self.email_domain_verified = True
        self.base_url = ""  # set by the fixture
        self.ca_file = ""  # the self-signed certificate clients must trust
        self.concurrency_limit = 4
        # When mail is created and sent; tokens expire on real time (msal checks them so).
        self.subscriptions: dict[str, dict[str, Any]] = {}  # id -> subscription
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.max_in_flight = 0
        # Graph sends asynchronously: a sent message shows in Sent Items this long after the
        # send call (0: at once). Before that its id answers 404, as on Exchange.
        self.sent_items_delay = timedelta(0)
        self.mime_drafts = 0  # drafts created from MIME
        self._lock = threading.RLock()
        self._boxes: dict[str, GraphMailbox] = {}
        self._users: dict[str, _User] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, _User] = {}
        self._access: dict[str, tuple[_User, float]] = {}
        self.token_scopes: dict[str, set[str]] = {}  # access token -> its scopes
        self._faults: dict[str, list[GraphError]] = {}
        self._drops: dict[str, int] = {}
        self._gate: threading.Event | None = None
        self.calls: list[str] = []
        self.requests: list[str] = []  # every path asked for, in order
        self.token_requests: list[dict[str, str]] = []
        # Signing keys by kid; only the published ones are in the JWKS (a kid it does not
        # list is a key rotated out, or one it never had).
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published = {"k1"}
        self.graph_requests: list[tuple[str, str, dict[str, str], Any]] = []
        # Upload sessions by their token: (mailbox, message immutable id, name, content type,
        # size, bytes received so far).
        self.upload_sessions: dict[str, dict[str, Any]] = {}
        self.upload_puts: list[str] = []  # the Content-Range of every PUT received

    # ---------------------------------------------------------------- URLs
    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    @property
    def graph_base_url(self) -> str:
        return f"{self.base_url}/v1.0"

    # ---------------------------------------------------------------- signing keys
    @property
    def keys(self) -> dict[str, rsa.RSAPrivateKey]:
        """k1 and k2, made on first use (RSA keys take a while; most tests never need them)."""
        with self._lock:
            if not self._keys:
                self._keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
                              for kid in ("k1", "k2")}
            return self._keys

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in sorted(self.published):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, now: datetime, *, kid: str = "k1", **overrides: Any) -> str:
        """An Entra v2 access token for our API, for ann@acme.test in this tenant. Each
        override replaces a claim (None removes it)."""
        claims: dict[str, Any] = {
            "aud": API_ID,
            "iss": ISSUER.format(tenant=self.tenant),
            "tid": self.tenant,
            "oid": "00000000-0000-0000-0000-0000000000a1",
            "preferred_username": "ann@acme.test",
            "name": "Ann",
            "scp": f"{API_SCOPE} User.Read",
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
            "ver": "2.0",
            "xms_edov": True,
        }
        for key, value in overrides.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    # ---------------------------------------------------------------- test controls
    def mailbox(self, address: str, display_name: str = "") -> GraphMailbox:
        key = address.lower()
        with self._lock:
            if key not in self._boxes:
                self._boxes[key] = GraphMailbox(key, display_name or key.split("@")[0].title(),
                                                secrets.token_hex(16))
            return self._boxes[key]

    def recipient_view(self, address: str) -> RecipientView:
        box = self.mailbox(address)
        return RecipientView(address, [Delivered(parse(m.raw)) for m in box.folder("inbox")
                                       if m.raw is not None])

    def _user(self, address: str) -> _User:
        key = address.lower()
        with self._lock:
            if key not in self._users:
                self._users[key] = _User(key, self.mailbox(key).user_id)
            return self._users[key]

    def consent(self, auth_uri: str, address: str) -> str:
        """The user signs in as `address` at the authorize endpoint and consents; returns the
        redirect back to our app (response_mode query)."""
        q = {k: v[0] for k, v in parse_qs(urlparse(auth_uri).query).items()}
        assert urlparse(auth_uri).path == f"/{self.tenant}/oauth2/v2.0/authorize", auth_uri
        assert q["client_id"] == self.client_id
        code = secrets.token_urlsafe(16)
        self._user(address).interaction_required = False  # they just signed in interactively
        with self._lock:
            self._codes[code] = {"user": self._user(address), "redirect_uri": q["redirect_uri"],
                                 "challenge": q.get("code_challenge"),
                                 "method": q.get("code_challenge_method"),
                                 "nonce": q.get("nonce"), "scope": q.get("scope", "")}
        back = {"code": code, "state": q.get("state", ""), "session_state": secrets.token_hex(8)}
        return f"{q['redirect_uri']}?{urlencode(back)}"

    def revoke(self, address: str) -> None:
        """The admin revoked sessions / the password changed: every refresh and access token
        issued so far dies (a new sign-in gets new ones)."""
        user = self._user(address)
        with self._lock:
            self._refresh = {t: u for t, u in self._refresh.items() if u is not user}
            self._access = {t: v for t, v in self._access.items() if v[0] is not user}

    def require_interaction(self, address: str) -> None:
        """A conditional-access change (MFA) means the user must sign in again."""
        self._user(address).interaction_required = True

    def fail(self, route: str, status: int, code: str = "", message: str = "", *,
             headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next `times` calls of `route` (e.g. "messages.send", "token.refresh") fail."""
        with self._lock:
            self._faults.setdefault(route, []).extend(
                [GraphError(status, code or "ErrorInternalServerError", message, headers)] * times)

    def drop_after(self, route: str, times: int = 1) -> None:
        with self._lock:
            self._drops[route] = self._drops.get(route, 0) + times

    def deliver(self, to: str, message: EmailMessage) -> GraphMessage:
        """An email arrives in `to`'s inbox from outside (a reply, a bounce, an automatic
        reply). Exchange files it in the conversation of a message it names, if any."""
        with self._lock:
            box = self.mailbox(to)
            refs = msg_ids(str(message["References"] or "")) + msg_ids(
                str(message["In-Reply-To"] or ""))
            conv = next((m.conversation_id for m in box.messages.values()
                         if m.internet_message_id in refs), None)
            standard = {"from", "to", "subject", "message-id", "date", "in-reply-to",
                        "references", "content-type", "mime-version",
                        "content-transfer-encoding"}
            custom = [(k, str(v)) for k, v in message.items() if k.lower() not in standard]
            part = message.get_body(preferencelist=("plain", "html"))
            body = str(part.get_content()) if part is not None else ""  # type: ignore[attr-defined]
            html_body = part is not None and part.get_content_type() == "text/html"
            name, address = getaddresses([str(message["From"] or "")])[0]
            imm, rest = self._new_ids()
            msg = GraphMessage(
                imm, rest, "inbox", str(message["Subject"] or ""),
                "html" if html_body else "text", body, address.lower(), name,
                [(n, a) for n, a in getaddresses([str(message["To"] or "")])],
                conv or "AAQkAGI2" + secrets.token_urlsafe(16),
                str(message["Message-ID"] or make_msgid(domain="example.net")), custom,
                (msg_ids(str(message["In-Reply-To"] or "")) or [None])[0],
                msg_ids(str(message["References"] or "")), created=self.clock(),
                sent=self.clock(), raw=message.as_bytes())
            box.messages[imm] = msg
            return msg

    def expire_delta(self, address: str) -> None:
        """Exchange dropped the sync state: every delta token so far is answered 410."""
        box = self.mailbox(address)
        with self._lock:
            box.delta_generation += 1

    def hold(self) -> threading.Event:
        """Graph requests wait until the returned event is set (to observe concurrency)."""
        self._gate = threading.Event()
        return self._gate

    # ---------------------------------------------------------------- WSGI
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        self.requests.append(request.path)
        route = ""
        try:
            route, response = self._dispatch(request)
        except GraphError as exc:
            response = exc.response()
        if route and self._take_drop(route):
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        return response(environ, start_response)

    def _take_drop(self, route: str) -> bool:
        with self._lock:
            if self._drops.get(route, 0) > 0:
                self._drops[route] -= 1
                return True
        return False

    def _fault(self, route: str) -> None:
        with self._lock:
            self.calls.append(route)
            queue = self._faults.get(route)
            fault = queue.pop(0) if queue else None
        if fault is not None:
            raise fault

    def _dispatch(self, request: Request) -> tuple[str, Response]:
        path = request.path
        if path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            self._fault("discovery")
            return "discovery", _json(self._discovery())
        if path == f"/{self.tenant}/oauth2/v2.0/token" and request.method == "POST":
            return self._token(request)
        if path.startswith("/v1.0/"):
            return self._graph(request, path[len("/v1.0"):])
        m = re.fullmatch(r"/upload/AttachmentSessions/([^/]+)", path)
        if m and request.method == "PUT":
            return self._upload_put(request, m.group(1))
        # Any tenant's keys: the pane's tokens may come from each allowed tenant.
        if re.fullmatch(r"/[^/]+/discovery/v2\.0/keys", path) and request.method == "GET":
            self._fault("keys")
            return "keys", _json(self.jwks())
        raise GraphError(404, "NotFound", "Resource not found")

    def _discovery(self) -> dict[str, Any]:
        base = self.authority
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{self.base_url}/{self.tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "tenant_region_scope": "EU",
        }

    # ---------------------------------------------------------------- token endpoint
    def _token(self, request: Request) -> tuple[str, Response]:
        form = request.form.to_dict()
        self.token_requests.append(form)
        grant_type = form.get("grant_type")
        route = "token.code" if grant_type == "authorization_code" else "token.refresh"
        self._fault(route)

        def err(code: str, desc: str, codes: list[int], suberror: str = "") -> tuple[str, Response]:
            body = {"error": code, "error_description": desc, "error_codes": codes,
                    "timestamp": _iso(datetime.now(UTC)), "trace_id": secrets.token_hex(8),
                    "correlation_id": secrets.token_hex(8), "suberror": suberror,
                    "classification": ""}
            return route, Response(json.dumps(body), status=400, mimetype="application/json")

        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                   self.client_secret):
            return err("invalid_client", "AADSTS7000215: Invalid client secret provided.",
                       [7000215])
        with self._lock:
            if grant_type == "authorization_code":
                data = self._codes.pop(form.get("code", ""), None)
                if data is None or data["redirect_uri"] != form.get("redirect_uri"):
                    return err("invalid_grant", "AADSTS70000: The provided authorization code "
                               "is invalid or has expired.", [70000])
                digest = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                if data["method"] != "S256" or digest != data["challenge"]:
                    return err("invalid_grant", "AADSTS501481: The Code_Verifier does not match "
                               "the code_challenge supplied in the authorization request.",
                               [501481])
                data["user"].consented |= set(data["scope"].split())
                return route, _json(self._tokens(data["user"], data["nonce"], form))
            if grant_type == "refresh_token":
                user = self._refresh.get(form.get("refresh_token", ""))
                if user is None:
                    return err("invalid_grant", "AADSTS50173: The provided grant has expired due "
                               "to it being revoked, a fresh auth token is needed.", [50173],
                               "bad_token")
                if user.interaction_required:
                    return err("interaction_required", "AADSTS50076: Due to a configuration "
                               "change made by your administrator, or because you moved to a "
                               "new location, you must use multi-factor authentication.",
                               [50076], "basic_action")
                asked = set(form.get("scope", "").split()) - {"openid", "profile",
                                                              "offline_access"}
                if user.consented and not asked <= user.consented:
                    return err("invalid_grant", "AADSTS65001: The user or administrator has not "
                               f"consented to use the application with ID '{self.client_id}'. "
                               "Send an interactive authorization request for this user and "
                               "resource.", [65001], "consent_required")
                return route, _json(self._tokens(user, None, form))
        return err("unsupported_grant_type", "AADSTS70003: unsupported grant type", [70003])

    def _tokens(self, user: _User, nonce: str | None, form: dict[str, str]) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": self.client_id, "iss": f"{self.authority}/v2.0", "iat": now, "nbf": now,
            "exp": now + 3600, "name": self.mailbox(user.address).display_name,
            "oid": user.oid, "preferred_username": user.address, "sub": b64url(user.oid.encode()),
            "tid": self.tenant, "ver": "2.0",
        }
        if self.email_domain_verified:
            claims["xms_edov"] = True  # Entra's optional claim, as the app registration asks
        if nonce:
            claims["nonce"] = nonce
        id_token = ".".join([b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                             b64url(json.dumps(claims).encode()), ""])
        access = "eyJ0eXAi." + secrets.token_urlsafe(24)
        refresh = "0.AX" + secrets.token_urlsafe(32)  # rotated on every grant, as Entra does
        self._access[access] = (user, time.time() + 3600)
        self._refresh[refresh] = user
        scopes = [s for s in form.get("scope", "").split()
                  if s not in ("openid", "profile", "offline_access")]
        self.token_scopes[access] = set(scopes)
        return {
            "token_type": "Bearer", "scope": " ".join(scopes), "expires_in": 3599,
            "ext_expires_in": 3599, "access_token": access, "refresh_token": refresh,
            "id_token": id_token,
            "client_info": b64url(json.dumps({"uid": user.oid, "utid": self.tenant}).encode()),
        }

    # ---------------------------------------------------------------- Graph
    def _graph(self, request: Request, path: str) -> tuple[str, Response]:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self._lock:
            found = self._access.get(token)
        if found is None or found[1] < time.time():
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token has expired or is not yet valid.")
        box = self.mailbox(found[0].address)
        if path.startswith("/me/mailboxSettings") and not self.token_scopes.get(token, set()) & {
                "MailboxSettings.Read", "MailboxSettings.ReadWrite"}:
            raise GraphError(403, "ErrorAccessDenied",
                             "Access is denied. Check credentials and try again.")
        immutable = 'IdType="ImmutableId"' in request.headers.get("Prefer", "")
        body = request.get_json(silent=True) if request.data else None
        self.graph_requests.append((request.method, request.full_path, dict(request.headers),
                                    body))
        routes: list[tuple[str, str, str, Callable[..., Any]]] = [
            ("GET", r"/me", "me", self._me),
            ("POST", r"/me/messages", "messages.create", self._create),
            ("POST", r"/me/messages/([^/]+)/send", "messages.send", self._send),
            ("POST", r"/me/messages/([^/]+)/attachments", "attachments.create",
             self._attach),
            ("GET", r"/me/messages/([^/]+)/attachments", "attachments.list",
             self._attachments),
            ("POST", r"/me/messages/([^/]+)/attachments/createUploadSession",
             "attachments.createUploadSession", self._create_upload_session),
            ("POST", r"/me/messages/([^/]+)/createReply", "messages.createReply",
             self._create_reply),
            ("GET", r"/me/messages/([^/]+)/\$value", "messages.value", self._value),
            ("GET", r"/me/messages/([^/]+)", "messages.get", self._get),
            ("PATCH", r"/me/messages/([^/]+)", "messages.patch", self._patch),
            ("GET", r"/me/messages", "messages.list", self._list),
            ("GET", r"/me/mailFolders/([^/]+)/messages", "messages.list", self._list),
            ("GET", r"/me/mailFolders/([^/]+)/messages/delta", "messages.delta", self._delta),
            ("GET", r"/me/mailboxSettings/automaticRepliesSetting",
             "mailboxSettings.automaticReplies", self._auto_replies),
            ("POST", r"/subscriptions", "subscriptions.create", self._subscribe),
            ("PATCH", r"/subscriptions/([^/]+)", "subscriptions.update", self._resubscribe),
        ]
        for verb, pattern, route, handler in routes:
            m = re.fullmatch(pattern, path)
            if not (m and verb == request.method):
                continue
            with self._lock:
                box.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, box.in_flight)
                over = box.in_flight > self.concurrency_limit
            try:
                if over:
                    raise GraphError(429, "ApplicationThrottled", "Application is over its "
                                     "MailboxConcurrency limit.", {"Retry-After": "1"})
                if self._gate is not None:
                    self._gate.wait(10)
                self._fault(route)
                with self._lock:
                    status, result = handler(box, request, body or {}, immutable, *m.groups())
            finally:
                with self._lock:
                    box.in_flight -= 1
            if result is None:
                return route, Response(status=status)
            if isinstance(result, bytes):  # /$value: the MIME, as Graph serves it
                return route, Response(result, status=status, mimetype="text/plain")
            return route, _json(result, status)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")

    def set_automatic_replies(self, address: str, status: str, *,
                              start: datetime | None = None, end: datetime | None = None,
                              time_zone: str = "UTC") -> None:
        """The user sets their automatic replies in Outlook: disabled, alwaysEnabled or
        scheduled (between start and end, given in `time_zone`)."""
        assert status in ("disabled", "alwaysEnabled", "scheduled")
        box = self.mailbox(address)
        with self._lock:
            box.auto_replies["status"] = status
            for key, when in (("scheduledStartDateTime", start), ("scheduledEndDateTime", end)):
                if when is not None:
                    local = when.astimezone(ZoneInfo(time_zone)) if time_zone != "UTC" else \
                        when.astimezone(UTC)
                    box.auto_replies[key] = {
                        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                        "timeZone": time_zone}

    def _auto_replies(self, box: GraphMailbox, *_: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('"
                     f"{box.user_id}')/mailboxSettings/automaticRepliesSetting",
                     **box.auto_replies}

    def _me(self, box: GraphMailbox, *_: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"id": box.user_id, "displayName": box.display_name, "mail": box.address,
                     "userPrincipalName": box.address}

    def _new_ids(self) -> tuple[str, str]:
        return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + secrets.token_urlsafe(20), \
            "AAMkAGI2" + secrets.token_urlsafe(20)

    def _resource(self, msg: GraphMessage, immutable: bool, select: str = ""
                  ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": msg.immutable_id if immutable else msg.rest_id,
            "createdDateTime": _iso(msg.created), "lastModifiedDateTime": _iso(msg.created),
            "sentDateTime": _iso(msg.sent) if msg.sent else None,
            "receivedDateTime": _iso(msg.sent or msg.created),
            "subject": msg.subject, "bodyPreview": re.sub(r"<[^>]+>", "", msg.body)[:255],
            "body": {"contentType": msg.body_type, "content": msg.body},
            "isDraft": msg.is_draft, "conversationId": msg.conversation_id,
            "internetMessageId": msg.internet_message_id,
            "parentFolderId": msg.folder,
            "from": {"emailAddress": {"name": msg.from_name, "address": msg.from_addr}},
            "sender": {"emailAddress": {"name": msg.from_name, "address": msg.from_addr}},
            "toRecipients": [{"emailAddress": {"name": n, "address": a}} for n, a in msg.to],
            "ccRecipients": [{"emailAddress": {"name": n, "address": a}} for n, a in msg.cc],
            "bccRecipients": [{"emailAddress": {"name": n, "address": a}} for n, a in msg.bcc],
            "replyTo": [], "hasAttachments": bool(msg.attachments),
        }
        fields = [f.strip() for f in select.split(",") if f.strip()]
        if "internetMessageHeaders" in fields:
            headers = msg.transport_headers() if not msg.is_draft else msg.custom_headers
            out["internetMessageHeaders"] = [{"name": k, "value": v} for k, v in headers]
        if fields:
            out = {k: v for k, v in out.items() if k in fields or k == "id"}
        return out

    @staticmethod
    def _recipients(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
        out = []
        for item in items or []:
            addr = (item.get("emailAddress") or {}).get("address")
            if not addr or "@" not in addr:
                raise GraphError(400, "ErrorInvalidRecipients",
                                 "At least one recipient is not valid.")
            out.append(((item["emailAddress"].get("name") or ""), addr))
        return out

    @staticmethod
    def _headers(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
        out = []
        for h in items or []:
            if not str(h.get("name", "")).lower().startswith("x-"):
                raise GraphError(400, "InvalidInternetMessageHeader", "The internet message "
                                 f"header name '{h.get('name')}' should start with 'x-' or 'X-'.")
            out.append((h["name"], str(h.get("value", ""))))
        return out

    def _create(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                immutable: bool) -> tuple[int, dict[str, Any]]:
        if request.mimetype == "text/plain":
            return self._create_from_mime(box, request, immutable)
        immutable_id, rest_id = self._new_ids()
        content = body.get("body") or {}
        msg = GraphMessage(
            immutable_id=immutable_id, rest_id=rest_id, folder="drafts",
            subject=body.get("subject", ""), body_type=str(content.get("contentType", "text"))
            .lower(), body=content.get("content", ""), from_addr=box.address,
            from_name=box.display_name, to=self._recipients(body.get("toRecipients")),
            cc=self._recipients(body.get("ccRecipients")),
            bcc=self._recipients(body.get("bccRecipients")),
            conversation_id="AAQkAGI2" + secrets.token_urlsafe(16),
            internet_message_id=self._imid(box),
            custom_headers=self._headers(body.get("internetMessageHeaders")),
            created=self.clock(),
        )
        box.messages[immutable_id] = msg
        return 201, self._resource(msg, immutable)

    def _create_from_mime(self, box: GraphMailbox, request: Request, immutable: bool
                          ) -> tuple[int, dict[str, Any]]:
        """POST /me/messages with Content-Type text/plain: a base64 RFC 5322 message becomes a
        draft keeping its headers (List-Unsubscribe included). Exchange files it in the
        conversation of a message its In-Reply-To / References name, and (the outcome this
        fake takes of the unverified one) assigns its own internetMessageId."""
        try:
            message = parse(base64.b64decode(request.get_data(), validate=True))
        except (ValueError, TypeError) as exc:
            raise GraphError(400, "ErrorMimeContentInvalidBase64String",
                             "Invalid base64 string for MIME content.") from exc
        if message["From"] is None or message["To"] is None:
            raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
        refs = msg_ids(str(message["References"] or "")) + msg_ids(
            str(message["In-Reply-To"] or ""))
        conv = next((m.conversation_id for m in box.messages.values()
                     if m.internet_message_id in refs and m.visible(self.clock())), None)
        standard = {"from", "to", "cc", "bcc", "subject", "message-id", "date", "in-reply-to",
                    "references", "content-type", "mime-version", "content-transfer-encoding"}

        def addresses(name: str) -> list[tuple[str, str]]:
            return self._recipients([{"emailAddress": {"name": n, "address": a}}
                                     for n, a in getaddresses([str(message[name] or "")])
                                     if a])
        part = message.get_body(preferencelist=("html", "plain"))
        content = str(part.get_content()) if part is not None else ""  # type: ignore[attr-defined]
        immutable_id, rest_id = self._new_ids()
        msg = GraphMessage(
            immutable_id=immutable_id, rest_id=rest_id, folder="drafts",
            subject=str(message["Subject"] or ""),
            body_type="html" if part is not None and part.get_content_subtype() == "html"
            else "text", body=content, from_addr=box.address, from_name=box.display_name,
            to=self._recipients([{"emailAddress": {"name": n, "address": a}}
                                 for n, a in getaddresses([str(message["To"])])]),
            cc=addresses("Cc"), bcc=addresses("Bcc"),
            attachments=[("AAMkAtt" + secrets.token_urlsafe(12), str(p.get_filename() or ""),
                          p.get_content_type(), bytes(p.get_payload(decode=True) or b""))
                         for p in message.iter_attachments()],
            conversation_id=conv or "AAQkAGI2" + secrets.token_urlsafe(16),
            internet_message_id=self._imid(box),
            custom_headers=[(k, " ".join(str(v).split())) for k, v in message.items()
                            if k.lower() not in standard],
            in_reply_to=(msg_ids(str(message["In-Reply-To"] or "")) or [None])[0],
            references=msg_ids(str(message["References"] or "")), created=self.clock())
        box.messages[immutable_id] = msg
        self.mime_drafts += 1
        return 201, self._resource(msg, immutable)

    @staticmethod
    def _imid(box: GraphMailbox) -> str:
        domain = box.address.partition("@")[2].replace(".", "")
        return f"<AM0PR01MB{secrets.token_hex(8).upper()}@AM0PR01MB.{domain}.prod.outlook.com>"

    def _lookup(self, box: GraphMailbox, any_id: str, immutable: bool) -> GraphMessage:
        msg = box.messages.get(any_id) if immutable else box.find(any_id)
        if msg is not None and not msg.visible(self.clock()):
            msg = None  # sent, not yet in Sent Items
        if msg is None or (not immutable and msg.rest_id != any_id):
            raise GraphError(404, "ErrorItemNotFound",
                             "The specified object was not found in the store.")
        return msg

    def _send(self, box: GraphMailbox, request: Request, body: dict[str, Any], immutable: bool,
              mid: str) -> tuple[int, None]:
        msg = self._lookup(box, mid, immutable)
        if not msg.is_draft:
            raise GraphError(404, "ErrorItemNotFound",
                             "The specified object was not found in the store.")
        if not msg.to:
            raise GraphError(400, "ErrorInvalidRecipients",
                             "At least one recipient isn't valid.")
        msg.folder, msg.sent = "sentitems", self.clock()
        msg.visible_at = self.clock() + self.sent_items_delay
        msg.rest_id = "AAMkAGI2" + secrets.token_urlsafe(20)  # moved: a REST id changes
        raw = msg.as_mime()  # no Bcc header: what every recipient sees
        for rcpt in dict.fromkeys(a.lower() for _, a in [*msg.to, *msg.cc, *msg.bcc]):
            target = self.mailbox(rcpt)
            if target.address == box.address:
                continue
            imm, rest = self._new_ids()
            target.messages[imm] = GraphMessage(
                imm, rest, "inbox", msg.subject, msg.body_type, msg.body, msg.from_addr,
                msg.from_name, list(msg.to), "AAQkAGI2" + secrets.token_urlsafe(16),
                msg.internet_message_id, list(msg.custom_headers), msg.in_reply_to,
                list(msg.references), created=self.clock(), sent=msg.sent, raw=raw,
                cc=list(msg.cc), attachments=list(msg.attachments))
        return 202, None

    # ---------------------------------------------------------------- attachments
    INLINE_LIMIT = 3 * 1024 * 1024  # a fileAttachment in one POST: under 3 MB
    SESSION_LIMIT = 150 * 1024 * 1024
    RANGE_LIMIT = 4 * 1024 * 1024  # one PUT of an upload session

    def _draft(self, box: GraphMailbox, mid: str, immutable: bool) -> GraphMessage:
        msg = self._lookup(box, mid, immutable)
        if not msg.is_draft:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials "
                             "and try again.")  # a sent item's attachments are read-only
        return msg

    def _attach(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                immutable: bool, mid: str) -> tuple[int, dict[str, Any]]:
        msg = self._draft(box, mid, immutable)
        if body.get("@odata.type") != "#microsoft.graph.fileAttachment":
            raise GraphError(400, "ErrorInvalidRequest", "Invalid @odata.type")
        try:
            data = base64.b64decode(str(body.get("contentBytes", "")), validate=True)
        except ValueError as exc:
            raise GraphError(400, "ErrorInvalidRequest", "contentBytes is not base64") from exc
        if len(data) >= self.INLINE_LIMIT:
            raise GraphError(413, "ErrorRequestEntityTooLarge", "The maximum request length "
                             "supported is 4MB; use an upload session above 3 MB.")
        att_id = "AAMkAtt" + secrets.token_urlsafe(12)
        name = str(body.get("name") or "")
        ctype = str(body.get("contentType") or "application/octet-stream")
        msg.attachments.append((att_id, name, ctype, data))
        return 201, {"@odata.type": "#microsoft.graph.fileAttachment", "id": att_id,
                     "name": name, "contentType": ctype, "size": len(data),
                     "isInline": False}

    def _attachments(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                     immutable: bool, mid: str) -> tuple[int, dict[str, Any]]:
        msg = self._lookup(box, mid, immutable)
        return 200, {"value": [
            {"@odata.type": "#microsoft.graph.fileAttachment", "id": i, "name": n,
             "contentType": c, "size": len(d), "contentBytes": base64.b64encode(d).decode()}
            for i, n, c, d in msg.attachments]}

    def _create_upload_session(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                               immutable: bool, mid: str) -> tuple[int, dict[str, Any]]:
        msg = self._draft(box, mid, immutable)
        item = body.get("AttachmentItem") or {}
        size = item.get("size")
        if item.get("attachmentType") != "file" or not item.get("name") or \
                not isinstance(size, int) or size <= 0:
            raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem: attachmentType "
                             "file, name and size are required.")
        if size > self.SESSION_LIMIT:
            raise GraphError(413, "ErrorAttachmentSizeLimitExceeded",
                             "The attachment exceeds the 150 MB limit.")
        token = secrets.token_urlsafe(24)
        self.upload_sessions[token] = {"box": box, "message": msg.immutable_id,
                                       "name": item["name"], "size": size,
                                       "content_type": item.get("contentType")
                                       or "application/octet-stream", "data": b""}
        expires = self.clock() + timedelta(hours=24)
        return 201, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
                     "microsoft.graph.uploadSession",
                     "uploadUrl": f"{self.base_url}/upload/AttachmentSessions/"
                                  f"{token}?authtoken={secrets.token_urlsafe(16)}",
                     "expirationDateTime": _iso(expires), "nextExpectedRanges": ["0-"]}

    def _upload_put(self, request: Request, token: str) -> tuple[str, Response]:
        """A byte range of an upload session: pre-authorised by its URL."""
        self._fault("attachments.upload")
        if request.headers.get("Authorization"):
            raise GraphError(401, "InvalidAuthenticationToken", "The upload URL is "
                             "pre-authenticated: send no Authorization header.")
        with self._lock:
            session = self.upload_sessions.get(token)
            if session is None:
                raise GraphError(404, "ErrorItemNotFound", "The upload session was not found.")
            content_range = request.headers.get("Content-Range", "")
            self.upload_puts.append(content_range)
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
            data = request.get_data()
            if m is None:
                raise GraphError(400, "InvalidContentRange", "Content-Range is required.")
            start, end, total = (int(g) for g in m.groups())
            received = len(session["data"])
            if total != session["size"] or start != received or end - start + 1 != len(data) \
                    or end >= total:
                raise GraphError(416, "InvalidRange", f"Expected bytes {received}-.")
            if len(data) > self.RANGE_LIMIT:
                raise GraphError(413, "ErrorRequestEntityTooLarge",
                                 "A range is at most 4 MB.")
            session["data"] += data
            if len(session["data"]) < total:
                return "attachments.upload", _json({
                    "expirationDateTime": _iso(self.clock() + timedelta(hours=24)),
                    "nextExpectedRanges": [f"{len(session['data'])}-"]})
            box = session["box"]
            msg = box.messages[session["message"]]
            att_id = "AAMkAtt" + secrets.token_urlsafe(12)
            msg.attachments.append((att_id, session["name"], session["content_type"],
                                    session["data"]))
            del self.upload_sessions[token]
        location = (f"{self.graph_base_url}/me/messages('{msg.immutable_id}')"
                    f"/attachments('{att_id}')")
        return "attachments.upload", Response(status=201, headers={"Location": location})

    def _create_reply(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                      immutable: bool, mid: str) -> tuple[int, dict[str, Any]]:
        original = self._lookup(box, mid, immutable)
        message = body.get("message") or {}
        comment = body.get("comment")
        if comment is not None and message.get("body"):
            raise GraphError(400, "ErrorInvalidArgument", "Specify either a comment or the body "
                             "property of the message parameter, not both.")
        quote = (f'<hr><div id="divRplyFwdMsg"><b>From:</b> {html_lib.escape(original.from_name)}'
                 f" &lt;{original.from_addr}&gt;<br><b>Sent:</b> "
                 f"{_iso(original.sent or original.created)}<br><b>Subject:</b> "
                 f"{html_lib.escape(original.subject)}</div><div>{original.body}</div>")
        if message.get("body"):
            content = message["body"].get("content", "")
        else:
            content = f"<div>{comment or ''}</div>{quote}"
        to = (self._recipients(message["toRecipients"]) if message.get("toRecipients")
              else [(original.from_name, original.from_addr)])
        immutable_id, rest_id = self._new_ids()
        subject = original.subject if original.subject.upper().startswith("RE:") \
            else f"RE: {original.subject}"
        reply = GraphMessage(
            immutable_id, rest_id, "drafts", message.get("subject", subject), "html", content,
            box.address, box.display_name, to, original.conversation_id, self._imid(box),
            self._headers(message.get("internetMessageHeaders")),
            original.internet_message_id,
            [*original.references, original.internet_message_id], created=self.clock(),
        )
        box.messages[immutable_id] = reply
        return 201, self._resource(reply, immutable)

    def _get(self, box: GraphMailbox, request: Request, body: dict[str, Any], immutable: bool,
             mid: str) -> tuple[int, dict[str, Any]]:
        msg = self._lookup(box, mid, immutable)
        return 200, self._resource(msg, immutable, request.args.get("$select", ""))

    def _value(self, box: GraphMailbox, request: Request, body: dict[str, Any],
               immutable: bool, mid: str) -> tuple[int, bytes]:
        """GET /me/messages/{id}/$value: the message's MIME (what arrived, or what we sent)."""
        msg = self._lookup(box, mid, immutable)
        return 200, msg.raw if msg.raw is not None else msg.as_mime()

    def _patch(self, box: GraphMailbox, request: Request, body: dict[str, Any],
               immutable: bool, mid: str) -> tuple[int, dict[str, Any]]:
        msg = self._lookup(box, mid, immutable)
        if not msg.is_draft:
            raise GraphError(400, "ErrorInvalidOperation", "Only drafts can be updated.")
        if "subject" in body:
            msg.subject = body["subject"]
        if "body" in body:
            msg.body_type = str(body["body"].get("contentType", "text")).lower()
            msg.body = body["body"].get("content", "")
        if "toRecipients" in body:
            msg.to = self._recipients(body["toRecipients"])
        return 200, self._resource(msg, immutable)

    _FILTERS: ClassVar[list[tuple[re.Pattern[str], str]]] = [
        (re.compile(r"internetMessageId eq '([^']*)'"), "imid"),
        (re.compile(r"conversationId eq '([^']*)'"), "conv"),
        (re.compile(r"singleValueExtendedProperties/Any\(ep: ep/id eq 'String "
                    + re.escape(PS_INTERNET_HEADERS) + r" Name ([^']+)' and ep/value eq "
                    r"'([^']*)'\)"), "header"),
        (re.compile(r"sentDateTime ge (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"), "since"),
    ]

    def _list(self, box: GraphMailbox, request: Request, body: dict[str, Any], immutable: bool,
              folder: str | None = None) -> tuple[int, dict[str, Any]]:
        msgs = [m for m in box.messages.values() if m.visible(self.clock())]
        if folder is not None:
            name = folder.strip("'\"()").lower()
            if name not in ("sentitems", "inbox", "drafts"):
                raise GraphError(404, "ErrorInvalidIdMalformed", "Id is malformed.")
            msgs = [m for m in msgs if m.folder == name]
        flt = request.args.get("$filter", "")
        rest = flt
        for pattern, kind in self._FILTERS:
            for match in pattern.finditer(flt):
                rest = rest.replace(match.group(0), "")
                if kind == "imid":
                    msgs = [m for m in msgs if m.internet_message_id == match.group(1)]
                elif kind == "conv":
                    msgs = [m for m in msgs if m.conversation_id == match.group(1)]
                elif kind == "header":
                    msgs = [m for m in msgs if m.header(match.group(1)) == match.group(2)]
                else:
                    since = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ")
                    msgs = [m for m in msgs if m.sent and m.sent >= since.replace(tzinfo=UTC)]
        if rest.replace(" and ", "").strip():
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {rest.strip()}")
        msgs.sort(key=lambda m: m.sent or m.created, reverse=True)
        top = int(request.args.get("$top", 10))
        select = request.args.get("$select", "")
        return 200, {"@odata.context": f"{self.graph_base_url}/$metadata#users('{box.user_id}')"
                     "/messages", "value": [self._resource(m, immutable, select)
                                            for m in msgs[:top]]}


    def _delta(self, box: GraphMailbox, request: Request, body: dict[str, Any],
               immutable: bool, folder: str) -> tuple[int, dict[str, Any]]:
        """Inbox delta (messages added): a round without a token lists everything, then a
        @odata.deltaLink; pages of 10 linked by @odata.nextLink ($skiptoken)."""
        if folder.strip("'\"()").lower() != "inbox":
            raise GraphError(400, "BadRequest", "this fake serves the inbox delta only")
        inbox = box.folder("inbox")
        skip = request.args.get("$skiptoken")
        if skip is not None:
            start, end = (int(x) for x in skip.split("_"))
        else:
            token = request.args.get("$deltatoken")
            start, end = 0, len(inbox)
            if token is not None:
                generation, _, seen = token.partition(".")
                if int(generation) != box.delta_generation:
                    raise GraphError(410, "SyncStateNotFound",
                                     "The sync state generation is not found.")
                start = int(seen)
        page = inbox[start:min(end, start + 10)]
        link = f"{self.graph_base_url}/me/mailFolders/inbox/messages/delta"
        out: dict[str, Any] = {"value": [{"id": m.immutable_id if immutable else m.rest_id}
                                         for m in page]}
        if start + 10 < end:
            out["@odata.nextLink"] = f"{link}?$skiptoken={start + 10}_{end}"
        else:
            out["@odata.deltaLink"] = f"{link}?$deltatoken={box.delta_generation}.{end}"
        return 200, out


    def _subscribe(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                   immutable: bool) -> tuple[int, dict[str, Any]]:
        """POST /subscriptions (created mail in a folder). Real Graph first POSTs a
        validationToken to notificationUrl; tests call the endpoint themselves."""
        for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(key):
                raise GraphError(400, "InvalidRequest", f"{key} is required")
        if not str(body["notificationUrl"]).startswith("https://"):
            raise GraphError(400, "InvalidRequest", "notificationUrl must be https")
        sub = {**body, "id": secrets.token_hex(16)}
        self.subscriptions[sub["id"]] = sub
        return 201, sub

    def _resubscribe(self, box: GraphMailbox, request: Request, body: dict[str, Any],
                     immutable: bool, sub_id: str) -> tuple[int, dict[str, Any]]:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        sub.update({k: v for k, v in body.items() if k == "expirationDateTime"})
        return 200, sub


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


__all__ = ["TENANT", "GraphError", "GraphMailbox", "GraphMessage", "MicrosoftFake", "msg_ids"]
