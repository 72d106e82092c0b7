"""Test helpers for the Outlook add-in: a WSGI server thread on 127.0.0.1, a fake Entra JWKS
endpoint, and access tokens shaped like Entra's v2 tokens signed with local keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from addin_server.config import Settings
from tests.conftest import REDIS_URL, TEST_ENCRYPTION_KEY

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
API_ID = "6e1f4a52-93c3-4c7d-9d0a-3b3f2f1e0c11"
SCOPE = "access_as_user"
ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class FakeEntra:
    """Serves `/{tenant}/discovery/v2.0/keys` like login.microsoftonline.com, and mints tokens."""

    def __init__(self) -> None:
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
                     for kid in ("k1", "k2")}
        self.published = {"k1"}
        self.requests: list[str] = []

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in sorted(self.published):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request.path)
        parts = request.path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
            response = Response(json.dumps(self.jwks()), content_type="application/json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def token(self, now: datetime, *, kid: str = "k1", **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "aud": API_ID,
            "iss": ISSUER.format(tenant=TENANT),
            "tid": TENANT,
            "oid": "00000000-0000-0000-0000-0000000000a1",
            "preferred_username": "ann@acme.test",
            "name": "Ann",
            "scp": f"{SCOPE} User.Read",
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
            "ver": "2.0",
        }
        for key, value in overrides.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


def unsigned_token(claims: dict[str, Any]) -> str:
    """An `alg: none` token (PyJWT writes one when asked for algorithm=None)."""
    return jwt.encode(claims, None, algorithm="none")


def entra_server() -> Iterator[tuple[FakeEntra, str]]:
    """A fake Entra key endpoint on 127.0.0.1: (the fake, its base URL). Each test module
    wraps it in a module-scoped `entra` fixture."""
    fake = FakeEntra()
    with serve(fake) as url:
        yield fake, url


def ms_settings(base: Settings, jwks_base: str) -> Settings:
    return base.with_(
        outlook_api_audience=API_ID,
        outlook_allowed_tenants=(TENANT, OTHER_TENANT.upper()),
        microsoft_jwks_url=f"{jwks_base}/{{tenant}}/discovery/v2.0/keys",
        microsoft_issuer=ISSUER,
    )


def ms_db_settings(database_url: str, tmp_path: Any, jwks_base: str, **kw: Any) -> Settings:
    base = Settings(database_url=database_url, redis_url=REDIS_URL,
                    instance_path=str(tmp_path / "instance"), secret_key="test-secret",
                    encryption_keys=(TEST_ENCRYPTION_KEY,),
                    public_base_url="https://campaigns.example.test", **kw)
    return ms_settings(base, jwks_base)
