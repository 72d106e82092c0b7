"""A small Google OpenID Connect provider on 127.0.0.1 over TLS, for the sign-in tests.

It speaks Google's wire format: the authorization redirect's parameters, the token endpoint
(authorization code with PKCE S256, client secret in the form), an ID token signed RS256 with
a key published at the v1 certs URL ({kid: PEM certificate}), as google-auth verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def _cert(key: Any, name: str, *, ca: bool, san: bool) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(key, hashes.SHA256())


def tls_files(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(key, "127.0.0.1", ca=True, san=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@dataclass
class Pending:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    email: str
    sub: str


@dataclass
class GoogleOidcFake:
    client_id: str = "web-client.apps.googleusercontent.com"
    client_secret: str = "fake-secret"
    base_url: str = ""
    ca_file: str = ""
    codes: dict[str, Pending] = field(default_factory=dict)
    token_calls: int = 0
    issuer: str = "https://accounts.google.com"

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        pem = self._key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        self._signer = crypt.RSASigner.from_string(pem, key_id=self._kid)
        self._cert_pem = _cert(self._key, "fake-google-signing", ca=False, san=False).public_bytes(
            serialization.Encoding.PEM).decode()

    def consent(self, auth_url: str, email: str, sub: str = "1090000001") -> dict[str, str]:
        """The user picks an account on the consent screen: returns the callback's query."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        assert query["response_type"] == "code"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(12)
        self.codes[code] = Pending(query["client_id"], query["redirect_uri"], query["nonce"],
                                   query["code_challenge"], email, sub)
        return {"code": code, "state": query["state"], "scope": query["scope"]}

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/oauth2/v1/certs":
            response = Response(json.dumps({self._kid: self._cert_pem}),
                                mimetype="application/json")
        elif request.path == "/token" and request.method == "POST":
            response = self._token(request)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _error(self, code: str) -> Response:
        return Response(json.dumps({"error": code}), status=400, mimetype="application/json")

    def _token(self, request: Request) -> Response:
        self.token_calls += 1
        form = request.form
        pending = self.codes.pop(form.get("code", ""), None)
        if pending is None or form.get("grant_type") != "authorization_code":
            return self._error("invalid_grant")
        # Google takes the client's credentials in the form or as HTTP Basic auth.
        auth = request.authorization
        client = (auth.username, auth.password) if auth else (form.get("client_id"),
                                                             form.get("client_secret"))
        if client != (self.client_id, self.client_secret) or (
                form.get("redirect_uri") != pending.redirect_uri):
            return self._error("invalid_client")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != pending.challenge:
            return self._error("invalid_grant")
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "azp": self.client_id,
                  "sub": pending.sub, "email": pending.email, "email_verified": True,
                  "nonce": pending.nonce, "iat": now, "exp": now + 3600}
        id_token = jwt.encode(self._signer, claims).decode()
        body = {"access_token": secrets.token_urlsafe(16), "expires_in": 3599,
                "token_type": "Bearer", "id_token": id_token,
                "scope": "openid https://www.googleapis.com/auth/userinfo.email "
                         "https://www.googleapis.com/auth/userinfo.profile"}
        return Response(json.dumps(body), mimetype="application/json")


@contextmanager
def serve_tls(app: Any, tls: tuple[str, str]) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
