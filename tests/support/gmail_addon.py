"""Test doubles for the Gmail add-on: Google's signing keys and certificate endpoint, ID tokens,
event payloads, and a small fake of the Gmail API (drafts.create, messages.get/list) speaking
the real wire format on 127.0.0.1, driven by the real google-api-python-client."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SAMPLES = Path(__file__).resolve().parents[2] / "gmail_addon" / "samples"
SERVICE_ACCOUNT = "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "123456789012-abc.apps.googleusercontent.com"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes
    cert_pem: str


def make_signing_key(kid: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return SigningKey(kid, pem, cert.public_bytes(serialization.Encoding.PEM).decode())


def sign(key: SigningKey, claims: dict[str, Any]) -> str:
    signer = crypt.RSASigner.from_string(key.private_pem, key_id=key.kid)
    return jwt.encode(signer, claims).decode()


def system_claims(audience: str, **overrides: Any) -> dict[str, Any]:
    # Tokens are checked by google-auth against the real clock: an hour of validity is plenty.
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "azp": "1000000000",
              "email": SERVICE_ACCOUNT, "email_verified": True, "sub": "1000000000",
              "iat": now - 10, "exp": now + 3600}
    claims.update(overrides)
    return claims


def user_claims(email: str, sub: str = "user-sub-1", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "accounts.google.com", "aud": CLIENT_ID, "email": email,
              "email_verified": True, "sub": sub, "iat": now - 10, "exp": now + 3600}
    claims.update(overrides)
    return claims


@contextmanager
def serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(5)


@dataclass
class CertsEndpoint:
    """Google's x509 certificate endpoint ({kid: PEM}), counting how often it is read."""

    keys: list[SigningKey]
    hits: int = 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.hits += 1
        body = json.dumps({k.kid: k.cert_pem for k in self.keys})
        return Response(body, mimetype="application/json",
                        headers={"Cache-Control": "public, max-age=3600"})(environ,
                                                                           start_response)


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A sample event from gmail_addon/samples with tokens and parts replaced."""
    data: dict[str, Any] = copy.deepcopy(json.loads((SAMPLES / f"{name}.json").read_text()))
    common = data["commonEventObject"]
    auth = data["authorizationEventObject"]
    if "user_token" in changes:
        auth["userIdToken"] = changes.pop("user_token")
    if "params" in changes:
        common["parameters"] = changes.pop("params")
    if "form" in changes:
        common["formInputs"] = changes.pop("form")
    if "scopes" in changes:
        auth["authorizedScopes"] = changes.pop("scopes")
    for key, value in changes.pop("gmail", {}).items():
        if value is None:
            data["gmail"].pop(key, None)
        else:
            data["gmail"][key] = value
    assert not changes, changes
    return data


def string_input(value: str) -> dict[str, Any]:
    return {"stringInputs": {"value": [value]}}


def datetime_input(moment: dt.datetime) -> dict[str, Any]:
    return {"dateTimeInput": {"msSinceEpoch": str(int(moment.timestamp() * 1000)),
                              "hasDate": True, "hasTime": True}}


# --- fake Gmail API -------------------------------------------------------------------------------


@dataclass
class FakeGmail:
    """users.drafts.create, users.messages.get and users.messages.list, as Google answers them.

    `messages` maps a hex id to {"threadId", "labelIds", "raw" (bytes)}; drafts are kept too.
    `fail_with` = (status, json error) makes the next call fail that way.
    """

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: tuple[int, dict[str, Any]] | None = None
    next_id: int = 0x18C2A0000000

    def new_id(self) -> str:
        self.next_id += 1
        return format(self.next_id, "x")

    def add_message(self, raw: bytes, *, thread_id: str | None = None,
                    labels: tuple[str, ...] = ("INBOX",), internal_ms: int = 0) -> str:
        mid = self.new_id()
        self.messages[mid] = {"threadId": thread_id or mid, "labelIds": list(labels),
                              "raw": raw, "internalDate": str(internal_ms)}
        return mid

    def draft_mime(self, draft_id: str) -> EmailMessage:
        raw = self.drafts[draft_id]["raw"]
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def _error(self, status: int, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append({"method": request.method, "path": request.path,
                              "args": request.args.to_dict(flat=False),
                              "headers": dict(request.headers),
                              "body": request.get_data(as_text=True)})
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        if self.fail_with is not None:
            status, body = self.fail_with
            self.fail_with = None
            return self._error(status, body)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return self._error(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        path = request.path.removeprefix("/gmail/v1/users/me")
        if request.method == "POST" and path == "/drafts":
            return self._create_draft(request.get_json())
        if request.method == "GET" and path == "/messages":
            return self._list(request)
        if request.method == "GET" and path.startswith("/messages/"):
            return self._get(path.rsplit("/", 1)[1], request)
        return self._error(404, {"error": {"code": 404, "message": "Not Found"}})

    def _create_draft(self, body: dict[str, Any]) -> Response:
        message = body["message"]
        raw = base64.urlsafe_b64decode(message["raw"] + "=" * (-len(message["raw"]) % 4))
        mid = self.new_id()
        thread = message.get("threadId") or mid
        draft_id = "r" + str(self.next_id)
        self.drafts[draft_id] = {"message_id": mid, "threadId": thread, "raw": raw}
        return Response(json.dumps({"id": draft_id, "message": {
            "id": mid, "threadId": thread, "labelIds": ["DRAFT"]}}),
            mimetype="application/json")

    def _headers(self, raw: bytes) -> list[dict[str, str]]:
        msg = message_from_bytes(raw, policy=policy.default)
        return [{"name": k, "value": str(v)} for k, v in msg.items()]

    def _get(self, mid: str, request: Request) -> Response:
        found = self.messages.get(mid)
        if found is None:
            return self._error(404, {"error": {"code": 404, "message": "Not Found"}})
        fmt = request.args.get("format", "full")
        out: dict[str, Any] = {"id": mid, "threadId": found["threadId"],
                               "labelIds": found["labelIds"],
                               "internalDate": found["internalDate"]}
        if fmt == "raw":
            out["raw"] = base64.urlsafe_b64encode(found["raw"]).decode()
        else:
            headers = self._headers(found["raw"])
            wanted = {h.lower() for h in request.args.getlist("metadataHeaders")}
            if fmt == "metadata" and wanted:
                headers = [h for h in headers if h["name"].lower() in wanted]
            out["payload"] = {"headers": headers}
        return Response(json.dumps(out), mimetype="application/json")

    def _list(self, request: Request) -> Response:
        label = request.args.get("labelIds")
        ids = [m for m, v in self.messages.items() if not label or label in v["labelIds"]]
        ids.reverse()  # newest first, as Gmail lists them
        return Response(json.dumps({"messages": [
            {"id": m, "threadId": self.messages[m]["threadId"]} for m in ids],
            "resultSizeEstimate": len(ids)}), mimetype="application/json")
