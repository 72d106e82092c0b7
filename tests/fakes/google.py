"""A fake Google: OAuth consent + token endpoint, OpenID Connect (signed ID tokens and the
certificates that verify them) and the Gmail API (v1 wire format), in memory.

Point the real libraries at it:
- google-auth-oauthlib Flow: client config `auth_uri=fake.auth_uri`, `token_uri=fake.token_uri`;
- google.oauth2.credentials.Credentials(token_uri=fake.token_uri, ...);
- googleapiclient build("gmail", "v1", client_options={"api_endpoint": fake.api_endpoint});
- google.oauth2.id_token.verify_token(..., certs_url=fake.certs_url).

Served over plain HTTP (OAUTHLIB_INSECURE_TRANSPORT=1 in the tests that redeem codes that way)
or over TLS (`serve(fake.wsgi, tls=...)`, then `fake.ca_file` is the certificate to trust).

Sign-in (OpenID Connect): when the consented scopes include `openid`, the code exchange also
returns an `id_token` (RS256, signed with `signing_keys[0]`, with the request's nonce, the
user's `sub` and `email`, `iss` = `fake.issuer`). `/oauth2/v1/certs` publishes a certificate
per signing key (`{kid: PEM}`), as Google does for every ID token it signs (also those the
Gmail add-on receives: `sign(key, claims)` makes them).

What it models (each a documented Gmail behaviour, see the reference):
- drafts.create / drafts.send (sending consumes the draft: a second send of the same id is 404),
  messages.send, messages.get (format metadata with metadataHeaders / full / raw / minimal),
  messages.list (labelIds, pageToken, newest first), threads.get, history.list (404 when the
  start id is older than what it keeps), users.getProfile;
- a sent message joins the sender's thread only when threadId is given AND In-Reply-To/References
  name a message of that thread AND the subject matches (ignoring Re:);
- Gmail replaces the client's Message-ID (`keep_client_message_id=False`, the default), so the
  caller has to read the real one back;
- scopes per method (gmail.send cannot read; gmail.metadata cannot read bodies);
- delivery: every recipient address (To, Cc, Bcc) gets an INBOX copy in its own fake mailbox;
  the Bcc header is removed from the delivered copies (the sender's SENT copy keeps it);
- media uploads (POST /upload/gmail/v1/users/{u}/drafts and .../messages/send, uploadType
  multipart: multipart/related with the JSON metadata then the message/rfc822 bytes; or media:
  the message alone), up to 36,700,160 bytes (413 above), as the discovery document says. The
  client library sends uploads to https only: serve this fake with TLS to receive them.

Test controls: `consent()` / `sign_in()`, `revoke()`, `expire_access_tokens()`,
`grant_access_token()`, `fail()` (route "gmail.*": the next Gmail API call, whichever),
`drop_after()`, `mailbox()`, `recipient_view()`, `deliver()` (an incoming email, e.g. a reply),
`set_vacation()` (the user's vacation responder, read by users.settings.getVacation),
`put()` (a message stored as given), `calls`, `token_requests`, `api_requests`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt
from werkzeug.wrappers import Request, Response

from tests.fakes.mail import Delivered, RecipientView, base_subject, msg_ids, parse
from tests.fakes.tls import certificate, pem

G = "https://www.googleapis.com/auth/"
MAIL = "https://mail.google.com/"
SEND_SCOPES = {G + "gmail.send", G + "gmail.compose", G + "gmail.modify", MAIL}
DRAFT_SCOPES = {G + "gmail.compose", G + "gmail.modify", MAIL}
META_SCOPES = {G + "gmail.metadata", G + "gmail.readonly", G + "gmail.modify", MAIL}
BODY_SCOPES = {G + "gmail.readonly", G + "gmail.modify", MAIL}
PROFILE_SCOPES = META_SCOPES | DRAFT_SCOPES
# The media upload limit of messages.send and drafts.create (discovery: "maxSize": "36700160").
UPLOAD_LIMIT = 36_700_160
# users.settings.getVacation / updateVacation (discovery: settings.basic, readonly / modify
# for reading, mail.google.com).
SETTINGS_READ_SCOPES = {G + "gmail.settings.basic", G + "gmail.readonly", G + "gmail.modify",
                        MAIL}
SETTINGS_WRITE_SCOPES = {G + "gmail.settings.basic", MAIL}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


@dataclass(frozen=True)
class SigningKey:
    """A key Google signs ID tokens with: its id, the private key, the published certificate."""

    kid: str
    private_pem: bytes
    cert_pem: str


def make_signing_key(kid: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SigningKey(kid, private, pem(certificate(key, "fake-google-signing")))


def sign(key: SigningKey, claims: dict[str, Any]) -> str:
    """An ID token (a JWT, RS256, `kid` in its header) as Google signs them."""
    signer = crypt.RSASigner.from_string(key.private_pem, key_id=key.kid)
    return jwt.encode(signer, claims).decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class GMessage:
    id: str
    thread_id: str
    labels: set[str]
    raw: bytes
    internal_ms: int
    history_id: int

    @property
    def parsed(self) -> EmailMessage:
        return parse(self.raw)


@dataclass
class GMailbox:
    address: str
    messages: dict[str, GMessage] = field(default_factory=dict)  # insertion = time order
    drafts: dict[str, str] = field(default_factory=dict)  # draft id -> message id
    history: list[tuple[int, str, str]] = field(default_factory=list)  # (id, kind, message id)
    history_id: int = 1000
    oldest_history_id: int = 1000  # history before this is "expired" (404)
    # VacationSettings as Gmail returns it (users.settings.getVacation).
    vacation: dict[str, Any] = field(default_factory=lambda: {
        "enableAutoReply": False, "responseSubject": "", "responseBodyPlainText": "",
        "restrictToContacts": False, "restrictToDomain": False})

    def thread(self, thread_id: str) -> list[GMessage]:
        return [m for m in self.messages.values() if m.thread_id == thread_id]

    def sent(self) -> list[GMessage]:
        return [m for m in self.messages.values() if "SENT" in m.labels]

    def inbox(self) -> list[GMessage]:
        return [m for m in self.messages.values() if "INBOX" in m.labels]


class GmailHttpError(Exception):
    def __init__(self, status: int, message: str, reason: str = "", status_text: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.status_text = status, reason, status_text
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"error": {"code": self.status, "message": str(self), "errors": [
            {"message": str(self), "domain": "global", "reason": self.reason or "failed"}],
            "status": self.status_text}}
        return Response(json.dumps(body), status=self.status, headers=self.headers,
                        mimetype="application/json")


@dataclass
class _Grant:
    address: str
    scopes: list[str]
    client_id: str
    revoked: bool = False


@dataclass
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class GoogleFake:
    """The state of a fake Google and its WSGI app (`fake.wsgi`). Thread-safe."""

    def __init__(self, *, client_id: str = "test-client.apps.googleusercontent.com",
                 client_secret: str = "test-secret",
                 signing_keys: list[SigningKey] | None = None) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.base_url = ""  # set by the fixture once the server runs
        self.ca_file = ""  # served over TLS: the certificate clients must trust
        self.issuer = "https://accounts.google.com"  # of the ID tokens it signs
        # Made on first use: an RSA key takes a while and most tests never sign in.
        self.signing_keys: list[SigningKey] = list(signing_keys or [])
        self.keep_client_message_id = False
        # When mail is stored (internalDate, Date); tokens expire on real time. Tests may set
        # it to their frozen clock.
        self.watches: dict[str, dict[str, Any]] = {}  # address -> users.watch body
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # True: the token endpoint returns no refresh token (as when consent is not re-shown).
        self.withhold_refresh_token = False
        self._lock = threading.RLock()
        self._boxes: dict[str, GMailbox] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, tuple[_Grant, float]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._drops: dict[str, int] = {}
        self._ids = itertools.count(0x18C0000000000000 + secrets.randbelow(1 << 40))
        self._grants: dict[str, list[_Grant]] = {}
        self.calls: list[str] = []  # route keys in order, e.g. "token.refresh", "drafts.send"
        self.token_requests: list[dict[str, str]] = []
        # Every Gmail API request: method, path, args, headers, body (even refused ones).
        self.api_requests: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []  # media uploads received (path, size, type)
        # True: the next Gmail API calls wait for `release` (a worker killed inside one never
        # hears the answer); `held` says one is waiting.
        self.hold_api = False
        self.held = threading.Event()
        self.release = threading.Event()

    # ---------------------------------------------------------------- URLs
    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def api_endpoint(self) -> str:
        return self.base_url

    @property
    def certs_url(self) -> str:
        return f"{self.base_url}/oauth2/v1/certs"

    @property
    def token_calls(self) -> int:
        return len(self.token_requests)

    # ---------------------------------------------------------------- test controls
    def mailbox(self, address: str) -> GMailbox:
        with self._lock:
            return self._boxes.setdefault(address.lower(), GMailbox(address.lower()))

    def recipient_view(self, address: str) -> RecipientView:
        box = self.mailbox(address)
        return RecipientView(address, [Delivered(m.parsed) for m in box.inbox()])

    def consent(self, auth_url: str, address: str, *, granted: Iterable[str] | None = None,
                deny: bool = False, sub: str | None = None) -> str:
        """The user signs in as `address` and clicks Allow on the consent screen for the URL our
        app redirected to. Returns the URL Google redirects the browser back to. `sub`: the
        Google account's subject (the ID token's `sub`; by default one fixed per address)."""
        q = {k: v[0] for k, v in parse_qs(urlparse(auth_url).query).items()}
        assert q["client_id"] == self.client_id, "unknown client_id"
        assert q.get("response_type") == "code"
        redirect = q["redirect_uri"]
        if deny:
            denied = {"error": "access_denied", "state": q.get("state", "")}
            return f"{redirect}?{urlencode(denied)}"
        scopes = list(granted) if granted is not None else q["scope"].split()
        code = secrets.token_urlsafe(16)
        with self._lock:
            first = not self._grants.get(address.lower())
            self._codes[code] = {
                "address": address.lower(), "scopes": scopes, "redirect_uri": redirect,
                "challenge": q.get("code_challenge"), "method": q.get("code_challenge_method"),
                # Google returns a refresh token only for offline access at first consent or
                # when prompt=consent forces the screen again.
                "offline": q.get("access_type") == "offline"
                and (first or "consent" in q.get("prompt", "").split()),
                "nonce": q.get("nonce"), "sub": sub or _subject(address),
            }
        back = {"state": q.get("state", ""), "code": code, "scope": " ".join(scopes)}
        return f"{redirect}?{urlencode(back)}"

    def sign_in(self, auth_url: str, address: str, *, sub: str | None = None) -> dict[str, str]:
        """`consent()`, returning the query Google sends the browser back with (as a dict)."""
        back = urlparse(self.consent(auth_url, address, sub=sub)).query
        return {k: v[0] for k, v in parse_qs(back).items()}

    def grant_access_token(self, address: str, token: str | None = None,
                           scopes: Iterable[str] = (MAIL,)) -> str:
        """An access token valid for `address` (an hour), as if Google had issued it outside
        the flows the test drives: e.g. the one a Gmail add-on event carries."""
        with self._lock:
            grant = _Grant(address.lower(), list(scopes), self.client_id)
            self._grants.setdefault(grant.address, []).append(grant)
            token = token or "ya29." + secrets.token_urlsafe(24)
            self._access[token] = (grant, time.time() + 3599)
            return token

    def revoke(self, address: str) -> None:
        """The user removed the app's access (or changed their password): every token dies."""
        with self._lock:
            for grant in self._grants.get(address.lower(), []):
                grant.revoked = True

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = {t: (g, 0.0) for t, (g, _) in self._access.items()}

    def fail(self, route: str, status: int, message: str = "", *, reason: str = "",
             headers: dict[str, str] | None = None, times: int = 1,
             body: dict[str, Any] | None = None) -> None:
        """The next `times` calls of `route` (e.g. "drafts.send", "token.refresh") fail."""
        payload = body or {"error": {"code": status, "message": message, "errors": [
            {"message": message, "domain": "usageLimits" if status == 429 else "global",
             "reason": reason or "failed"}]}}
        with self._lock:
            self._faults.setdefault(route, []).extend(
                [_Fault(status, payload, headers or {})] * times)

    def drop_after(self, route: str, times: int = 1) -> None:
        """The next `times` calls of `route` are carried out, then the connection is closed
        before any response is written (the response is lost)."""
        with self._lock:
            self._drops[route] = self._drops.get(route, 0) + times

    def deliver(self, to: str, message: EmailMessage, *, labels: Iterable[str] = ("INBOX",)
                ) -> GMessage:
        """An email arrives in `to`'s mailbox from outside (e.g. the contact's reply)."""
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid(domain="example.net")
        with self._lock:
            box = self.mailbox(to)
            return self._store(box, message.as_bytes(), set(labels), None, incoming=True)

    def put(self, address: str, raw: bytes, *, labels: Iterable[str] = ("INBOX",),
            thread_id: str | None = None, internal_ms: int | None = None) -> GMessage:
        """A message stored in `address`'s mailbox as given (written in Gmail's own UI,
        imported...): in `thread_id` if given, else a thread of its own; nothing delivered."""
        with self._lock:
            box = self.mailbox(address)
            msg = self._store(box, raw, set(labels), None)
            if thread_id is not None:
                msg.thread_id = thread_id
            if internal_ms is not None:
                msg.internal_ms = internal_ms
            return msg

    def seed_grant(self, address: str, scopes: Iterable[str]) -> str:
        """A refresh token as if the user had consented earlier (no browser step)."""
        with self._lock:
            grant = _Grant(address.lower(), list(scopes), self.client_id)
            self._grants.setdefault(grant.address, []).append(grant)
            token = "1//" + secrets.token_urlsafe(24)
            self._refresh[token] = grant
            return token

    # ---------------------------------------------------------------- storage
    def _new_id(self) -> str:
        return f"{next(self._ids):016x}"

    def _bump(self, box: GMailbox, kind: str, message_id: str) -> int:
        box.history_id += 1
        box.history.append((box.history_id, kind, message_id))
        return box.history_id

    def _store(self, box: GMailbox, raw: bytes, labels: set[str], thread_hint: str | None,
               *, incoming: bool = False) -> GMessage:
        parsed = parse(raw)
        # The sender's own message joins a thread only through threadId; a received one is
        # threaded on its headers and subject.
        thread_id = (self._thread_for(box, parsed, thread_hint) if thread_hint or incoming
                     else None)
        mid = self._new_id()
        msg = GMessage(mid, thread_id or mid, labels, raw, int(self.clock().timestamp() * 1000), 0)
        box.messages[mid] = msg
        msg.history_id = self._bump(box, "messageAdded", mid)
        return msg

    def _thread_for(self, box: GMailbox, parsed: EmailMessage, hint: str | None) -> str | None:
        """Gmail's documented rule for the sender (hint = threadId given); for a received
        message Gmail threads on the headers and the subject."""
        refs = set(msg_ids(str(parsed["References"] or ""))
                   + msg_ids(str(parsed["In-Reply-To"] or "")))
        subject = base_subject(str(parsed["Subject"] or ""))
        candidates = ([hint] if hint else
                      list(dict.fromkeys(m.thread_id for m in box.messages.values())))
        for tid in candidates:
            thread = box.thread(tid)
            if not thread:
                continue
            ids = {str(m.parsed["Message-ID"]) for m in thread}
            if refs & ids and any(base_subject(str(m.parsed["Subject"] or "")) == subject
                                  for m in thread):
                return tid
        return None

    def _send(self, box: GMailbox, raw: bytes, thread_hint: str | None) -> GMessage:
        parsed = parse(raw)
        if not self.keep_client_message_id or parsed["Message-ID"] is None:
            del parsed["Message-ID"]
            parsed["Message-ID"] = f"<CAFAKE{secrets.token_hex(12)}@mail.gmail.com>"
        if parsed["Date"] is None:
            parsed["Date"] = format_datetime(self.clock())
        raw = parsed.as_bytes()
        sent = self._store(box, raw, {"SENT"}, thread_hint)
        recipients = [a for _, a in getaddresses([str(parsed["To"] or ""),
                                                  str(parsed["Cc"] or ""),
                                                  str(parsed["Bcc"] or "")])]
        del parsed["Bcc"]  # what every recipient gets: no Bcc header
        delivered = parsed.as_bytes()
        for rcpt in dict.fromkeys(r.lower() for r in recipients):
            if rcpt == box.address:
                continue
            self._store(self.mailbox(rcpt), delivered, {"INBOX", "UNREAD"}, None,
                        incoming=True)
        return sent

    # ---------------------------------------------------------------- WSGI
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            route, response = self._dispatch(request)
        except GmailHttpError as exc:
            response, route = exc.response(), ""
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

    def _fault(self, route: str, *, api: bool = False) -> None:
        with self._lock:
            self.calls.append(route)
            queue = self._faults.get(route) or (self._faults.get("gmail.*") if api else None)
            fault = queue.pop(0) if queue else None
        if api and self.hold_api:
            self.held.set()
            self.release.wait(30)
        if fault is not None:
            raise _Injected(fault)

    def _dispatch(self, request: Request) -> tuple[str, Response]:
        path = request.path
        try:
            if path == "/token" and request.method == "POST":
                return self._token(request)
            if path == "/oauth2/v1/certs" and request.method == "GET":
                return self._certs()
            m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(.+)", path)
            if m:
                return self._gmail(request, m.group(1), m.group(2))
            m = re.fullmatch(r"/upload/gmail/v1/users/([^/]+)/(drafts|messages/send)", path)
            if m and request.method == "POST":
                return self._gmail(request, m.group(1), m.group(2), upload=True)
        except _Injected as inj:
            return "", Response(json.dumps(inj.fault.body), status=inj.fault.status,
                                headers=inj.fault.headers, mimetype="application/json")
        return "", Response(json.dumps({"error": {"code": 404, "message": "Not Found"}}),
                            status=404, mimetype="application/json")

    # ---------------------------------------------------------------- OAuth token endpoint
    def _token(self, request: Request) -> tuple[str, Response]:
        form = request.form.to_dict()
        self.token_requests.append({k: v for k, v in form.items()})
        grant_type = form.get("grant_type")
        route = "token.code" if grant_type == "authorization_code" else "token.refresh"
        self._fault(route)

        def err(code: str, desc: str, status: int = 400) -> tuple[str, Response]:
            return route, Response(json.dumps({"error": code, "error_description": desc}),
                                   status=status, mimetype="application/json")

        if request.authorization is not None and request.authorization.type == "basic":
            # client_secret_basic (requests-oauthlib's default) as well as client_secret_post
            form.setdefault("client_id", request.authorization.username or "")
            form.setdefault("client_secret", request.authorization.password or "")
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                   self.client_secret):
            return err("invalid_client", "The OAuth client was not found.", 401)
        with self._lock:
            if grant_type == "authorization_code":
                data = self._codes.pop(form.get("code", ""), None)
                if data is None or data["redirect_uri"] != form.get("redirect_uri"):
                    return err("invalid_grant", "Malformed auth code.")
                if data["challenge"]:
                    verifier = form.get("code_verifier", "")
                    digest = b64url(hashlib.sha256(verifier.encode()).digest()).rstrip("=")
                    if data["method"] != "S256" or digest != data["challenge"]:
                        return err("invalid_grant", "Invalid code verifier.")
                grant = _Grant(data["address"], data["scopes"], self.client_id)
                self._grants.setdefault(grant.address, []).append(grant)
                body: dict[str, Any] = self._access_token(grant)
                if "openid" in grant.scopes:
                    body["id_token"] = self._id_token(data)
                if data["offline"] and not self.withhold_refresh_token:
                    refresh = "1//" + secrets.token_urlsafe(24)
                    self._refresh[refresh] = grant
                    body["refresh_token"] = refresh
                return route, Response(json.dumps(body), mimetype="application/json")
            if grant_type == "refresh_token":
                found = self._refresh.get(form.get("refresh_token", ""))
                if found is None or found.revoked:
                    return err("invalid_grant", "Token has been expired or revoked.")
                return route, Response(json.dumps(self._access_token(found)),
                                       mimetype="application/json")
        return err("unsupported_grant_type", "Invalid grant_type")

    def _signing_key(self) -> SigningKey:
        with self._lock:
            if not self.signing_keys:
                self.signing_keys.append(make_signing_key(secrets.token_hex(8)))
            return self.signing_keys[0]

    def _id_token(self, code: dict[str, Any]) -> str:
        # Checked by google-auth against the real clock, whatever `self.clock` says.
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "azp": self.client_id,
                  "sub": code["sub"], "email": code["address"], "email_verified": True,
                  "iat": now, "exp": now + 3600}
        if code["nonce"]:
            claims["nonce"] = code["nonce"]
        return sign(self._signing_key(), claims)

    def _certs(self) -> tuple[str, Response]:
        self._fault("certs")
        self._signing_key()
        body = {k.kid: k.cert_pem for k in self.signing_keys}
        return "certs", Response(json.dumps(body), mimetype="application/json",
                                 headers={"Cache-Control": "public, max-age=3600"})

    def _access_token(self, grant: _Grant) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(24)
        self._access[token] = (grant, time.time() + 3599)
        return {"access_token": token, "expires_in": 3599, "scope": " ".join(grant.scopes),
                "token_type": "Bearer"}

    # ---------------------------------------------------------------- Gmail API
    def _user(self, request: Request, user_id: str) -> tuple[_Grant, GMailbox]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        with self._lock:
            found = self._access.get(token)
        if found is None or found[1] < time.time() or found[0].revoked:
            raise GmailHttpError(401, "Request had invalid authentication credentials. Expected "
                                 "OAuth 2 access token, login cookie or other valid authentication"
                                 " credential.", "authError", "UNAUTHENTICATED",
                                 {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        grant = found[0]
        if user_id not in ("me", grant.address):
            raise GmailHttpError(403, "Delegation denied for " + grant.address, "forbidden",
                                 "PERMISSION_DENIED")
        return grant, self.mailbox(grant.address)

    @staticmethod
    def _need(grant: _Grant, allowed: set[str]) -> None:
        if not allowed & set(grant.scopes):
            raise GmailHttpError(403, "Request had insufficient authentication scopes.",
                                 "insufficientPermissions", "PERMISSION_DENIED")

    def _gmail(self, request: Request, user_id: str, rest: str, *, upload: bool = False
               ) -> tuple[str, Response]:
        self.api_requests.append({"method": request.method, "path": request.path,
                                  "args": request.args.to_dict(flat=False),
                                  "headers": dict(request.headers),
                                  "body": "" if upload else request.get_data(as_text=True)})
        grant, box = self._user(request, user_id)
        method = request.method
        if upload:
            body = self._upload_body(request)
            self.uploads.append({"path": request.path, "size": request.content_length or 0,
                                 "upload_type": request.args.get("uploadType", "")})
        else:
            body = request.get_json(silent=True) or {}
        routes: list[tuple[str, str, str, Callable[..., Any], set[str]]] = [
            ("GET", r"profile", "profile", self._profile, PROFILE_SCOPES),
            ("POST", r"drafts", "drafts.create", self._drafts_create, DRAFT_SCOPES),
            ("POST", r"drafts/send", "drafts.send", self._drafts_send, DRAFT_SCOPES),
            ("GET", r"drafts/([^/]+)", "drafts.get", self._drafts_get, DRAFT_SCOPES),
            ("POST", r"messages/send", "messages.send", self._messages_send, SEND_SCOPES),
            ("GET", r"messages", "messages.list", self._messages_list, META_SCOPES),
            ("GET", r"messages/([^/]+)", "messages.get", self._messages_get, META_SCOPES),
            ("GET", r"threads/([^/]+)", "threads.get", self._threads_get, META_SCOPES),
            ("GET", r"history", "history.list", self._history, META_SCOPES),
            ("POST", r"watch", "watch", self._watch, META_SCOPES),
            ("GET", r"settings/vacation", "settings.getVacation", self._vacation_get,
             SETTINGS_READ_SCOPES),
            ("PUT", r"settings/vacation", "settings.updateVacation", self._vacation_put,
             SETTINGS_WRITE_SCOPES),
        ]
        for verb, pattern, route, handler, scopes in routes:
            m = re.fullmatch(pattern, rest)
            if m and verb == method:
                self._need(grant, scopes)
                self._fault(route, api=True)
                with self._lock:
                    result = handler(box, grant, request, body, *m.groups())
                return route, Response(json.dumps(result), mimetype="application/json")
        raise GmailHttpError(404, "Not Found", "notFound", "NOT_FOUND")

    def _watch(self, box: GMailbox, grant: _Grant, request: Request,
               body: dict[str, Any]) -> dict[str, Any]:
        """users.watch: INBOX changes published to a Pub/Sub topic for 7 days."""
        topic = str(body.get("topicName", ""))
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            raise GmailHttpError(400, "Invalid topicName", "invalidArgument", "INVALID_ARGUMENT")
        self.watches[box.address] = body
        expiration = int(self.clock().timestamp() * 1000) + 7 * 24 * 3600 * 1000
        return {"historyId": str(box.history_id), "expiration": str(expiration)}

    def set_vacation(self, address: str, *, on: bool, start: datetime | None = None,
                     end: datetime | None = None, subject: str = "Out of office",
                     restrict_to_contacts: bool = False) -> None:
        """The user turns their vacation responder on or off in Gmail's settings."""
        settings: dict[str, Any] = {
            "enableAutoReply": on, "responseSubject": subject,
            "responseBodyPlainText": "I am away.", "restrictToContacts": restrict_to_contacts,
            "restrictToDomain": False}
        # int64 fields: milliseconds since the epoch, as JSON strings
        if start is not None:
            settings["startTime"] = str(int(start.timestamp() * 1000))
        if end is not None:
            settings["endTime"] = str(int(end.timestamp() * 1000))
        with self._lock:
            self.mailbox(address).vacation = settings

    def _vacation_get(self, box: GMailbox, *_: Any) -> dict[str, Any]:
        return dict(box.vacation)

    def _vacation_put(self, box: GMailbox, grant: _Grant, request: Request,
                      body: dict[str, Any]) -> dict[str, Any]:
        box.vacation = {k: body[k] for k in (
            "enableAutoReply", "responseSubject", "responseBodyPlainText", "responseBodyHtml",
            "restrictToContacts", "restrictToDomain", "startTime", "endTime") if k in body}
        return dict(box.vacation)

    def _profile(self, box: GMailbox, *_: Any) -> dict[str, Any]:
        return {"emailAddress": box.address, "messagesTotal": len(box.messages),
                "threadsTotal": len({m.thread_id for m in box.messages.values()}),
                "historyId": str(box.history_id)}

    @staticmethod
    def _upload_body(request: Request) -> dict[str, Any]:
        """A media upload as the JSON body it stands for: the metadata, with the uploaded
        message as its `raw` (at messages.send the body is the message resource itself; at
        drafts.create, the draft's `message`)."""
        kind = request.args.get("uploadType", "")
        data = request.get_data()
        if len(data) > UPLOAD_LIMIT:
            raise GmailHttpError(413, "Request Too Large", "uploadTooLarge",
                                 "INVALID_ARGUMENT")
        drafts = request.path.endswith("/drafts")
        if kind == "media":
            if request.mimetype != "message/rfc822":
                raise GmailHttpError(400, "Media type not supported", "badContent",
                                     "INVALID_ARGUMENT")
            raw = b64url(data)
            return {"message": {"raw": raw}} if drafts else {"raw": raw}
        if kind != "multipart" or request.mimetype != "multipart/related":
            raise GmailHttpError(400, "Invalid upload request", "invalidArgument",
                                 "INVALID_ARGUMENT")
        boundary = request.mimetype_params.get("boundary", "").encode()
        parts = []
        for chunk in data.split(b"--" + boundary)[1:]:
            if chunk.startswith(b"--"):
                break
            # The client library writes its parts with bare \n line ends; RFC 2046 says
            # CRLF: take either.
            m = re.match(rb"\r?\n(.*?)\r?\n\r?\n", chunk, re.S)
            if m is None:
                continue
            content = chunk[m.end():]
            content = content[:-2] if content.endswith(b"\r\n") else content.removesuffix(b"\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in m.group(1).decode().splitlines())}
            parts.append((headers.get("content-type", ""), content))
        if len(parts) != 2 or not parts[0][0].startswith("application/json") or \
                not parts[1][0].startswith("message/rfc822"):
            raise GmailHttpError(400, "Multipart upload: metadata then message/rfc822",
                                 "badContent", "INVALID_ARGUMENT")
        meta = json.loads(parts[0][1] or b"{}")
        target = meta.setdefault("message", {}) if drafts else meta
        target["raw"] = b64url(parts[1][1])
        return dict(meta)

    @staticmethod
    def _raw_of(message: dict[str, Any]) -> bytes:
        raw = message.get("raw")
        if not raw:
            raise GmailHttpError(400, "Invalid value at 'message.raw'", "invalidArgument",
                                 "INVALID_ARGUMENT")
        return unb64url(raw)

    def _drafts_create(self, box: GMailbox, grant: _Grant, request: Request,
                       body: dict[str, Any]) -> dict[str, Any]:
        message = body.get("message") or {}
        raw = self._raw_of(message)
        hint = message.get("threadId")
        if hint and not box.thread(hint):
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        msg = self._store(box, raw, {"DRAFT"}, hint)
        draft_id = "r" + str(int(msg.id, 16) % 10**19)
        box.drafts[draft_id] = msg.id
        return {"id": draft_id, "message": {"id": msg.id, "threadId": msg.thread_id,
                                            "labelIds": sorted(msg.labels)}}

    def _drafts_get(self, box: GMailbox, grant: _Grant, request: Request, body: dict[str, Any],
                    draft_id: str) -> dict[str, Any]:
        mid = box.drafts.get(draft_id)
        if mid is None:
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        msg = box.messages[mid]
        return {"id": draft_id, "message": self._resource(msg, "minimal", [])}

    def _drafts_send(self, box: GMailbox, grant: _Grant, request: Request,
                     body: dict[str, Any]) -> dict[str, Any]:
        draft_id = body.get("id", "")
        mid = box.drafts.pop(draft_id, None)
        if mid is None:  # sent already (a draft is consumed by sending) or deleted
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        draft = box.messages.pop(mid)
        sent = self._send(box, draft.raw, draft.thread_id if draft.thread_id != draft.id else None)
        return {"id": sent.id, "threadId": sent.thread_id, "labelIds": sorted(sent.labels)}

    def _messages_send(self, box: GMailbox, grant: _Grant, request: Request,
                       body: dict[str, Any]) -> dict[str, Any]:
        raw = self._raw_of(body)
        hint = body.get("threadId")
        sent = self._send(box, raw, hint)
        return {"id": sent.id, "threadId": sent.thread_id, "labelIds": sorted(sent.labels)}

    def _message(self, box: GMailbox, mid: str) -> GMessage:
        msg = box.messages.get(mid)
        if msg is None:
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        return msg

    def _resource(self, msg: GMessage, fmt: str, wanted: list[str]) -> dict[str, Any]:
        parsed = msg.parsed
        out: dict[str, Any] = {
            "id": msg.id, "threadId": msg.thread_id, "labelIds": sorted(msg.labels),
            "snippet": _snippet(parsed), "historyId": str(msg.history_id),
            "internalDate": str(msg.internal_ms), "sizeEstimate": len(msg.raw),
        }
        if fmt == "raw":
            out["raw"] = b64url(msg.raw)
        elif fmt in ("metadata", "full"):
            headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
            if fmt == "metadata" and wanted:
                names = {w.lower() for w in wanted}
                headers = [h for h in headers if h["name"].lower() in names]
            out["payload"] = {"partId": "", "mimeType": parsed.get_content_type(),
                              "filename": "", "headers": headers}
            if fmt == "full":
                out["payload"]["parts"] = [
                    {"partId": str(i), "mimeType": p.get_content_type(),
                     "headers": [{"name": k, "value": str(v)} for k, v in p.items()],
                     "body": {"size": len(p.get_payload(decode=True) or b""),
                              "data": b64url(p.get_payload(decode=True) or b"")}}
                    for i, p in enumerate(parsed.walk()) if not p.is_multipart()]
        return out

    def _messages_get(self, box: GMailbox, grant: _Grant, request: Request,
                      body: dict[str, Any], mid: str) -> dict[str, Any]:
        fmt = request.args.get("format", "full")
        if fmt in ("full", "raw") and not BODY_SCOPES & set(grant.scopes):
            raise GmailHttpError(403, f"Metadata scope doesn't allow format {fmt.upper()}",
                                 "forbidden", "PERMISSION_DENIED")
        return self._resource(self._message(box, mid), fmt,
                              request.args.getlist("metadataHeaders"))

    def _messages_list(self, box: GMailbox, grant: _Grant, request: Request,
                       body: dict[str, Any]) -> dict[str, Any]:
        if request.args.get("q") and not BODY_SCOPES & set(grant.scopes):
            raise GmailHttpError(403, "Metadata scope does not support 'q' parameter",
                                 "forbidden", "PERMISSION_DENIED")
        labels = set(request.args.getlist("labelIds"))
        size = min(int(request.args.get("maxResults", 100)), 500)
        start = int(request.args.get("pageToken", 0) or 0)
        found = [m for m in reversed(list(box.messages.values()))
                 if labels <= m.labels and "DRAFT" not in m.labels - labels]
        page = found[start:start + size]
        out: dict[str, Any] = {"messages": [{"id": m.id, "threadId": m.thread_id} for m in page],
                               "resultSizeEstimate": len(found)}
        if start + size < len(found):
            out["nextPageToken"] = str(start + size)
        if not page:
            del out["messages"]
        return out

    def _threads_get(self, box: GMailbox, grant: _Grant, request: Request,
                     body: dict[str, Any], tid: str) -> dict[str, Any]:
        msgs = [m for m in box.thread(tid) if "DRAFT" not in m.labels]
        if not msgs:
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        fmt = request.args.get("format", "full")
        wanted = request.args.getlist("metadataHeaders")
        return {"id": tid, "historyId": str(max(m.history_id for m in msgs)),
                "messages": [self._resource(m, fmt, wanted) for m in msgs]}

    def _history(self, box: GMailbox, grant: _Grant, request: Request,
                 body: dict[str, Any]) -> dict[str, Any]:
        start = int(request.args.get("startHistoryId", "0"))
        if start < box.oldest_history_id:
            raise GmailHttpError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        label = request.args.get("labelId")
        size = min(int(request.args.get("maxResults", 100)), 500)
        offset = int(request.args.get("pageToken", 0) or 0)
        entries = []
        for hid, kind, mid in box.history:
            msg = box.messages.get(mid)
            if hid <= start or msg is None or (label and label not in msg.labels):
                continue
            ref = {"id": msg.id, "threadId": msg.thread_id, "labelIds": sorted(msg.labels)}
            entries.append({"id": str(hid), "messages": [ref],
                            _HISTORY_KEYS[kind]: [{"message": ref}]})
        page = entries[offset:offset + size]
        out: dict[str, Any] = {"historyId": str(box.history_id)}
        if page:
            out["history"] = page
        if offset + size < len(entries):
            out["nextPageToken"] = str(offset + size)
        return out


_HISTORY_KEYS = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted"}


class _Injected(Exception):
    def __init__(self, fault: _Fault) -> None:
        self.fault = fault


def _subject(address: str) -> str:
    """A Google account id (21 digits), the same for an address every time."""
    return "1" + str(int(hashlib.sha256(address.lower().encode()).hexdigest(), 16))[:20]


def _snippet(parsed: EmailMessage) -> str:
    part = parsed.get_body(preferencelist=("plain",))
    text = str(part.get_content()) if part is not None else ""  # type: ignore[attr-defined]
    return " ".join(text.split())[:200]
