"""Keys derived per purpose from SECRET_KEY (crypto.derive_key): a cookie signed with SECRET_KEY
itself, or with another purpose's key, is nobody's session."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient

from addin_server import crypto
from tests.conftest import make_actor


def _cookie(key: str | bytes, data: dict[str, Any]) -> str:
    signer_app = Flask("forger")
    signer_app.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer_app)
    assert serializer is not None
    return str(serializer.dumps(data))


def test_a_session_signed_with_another_key_is_refused(client: FlaskClient, runtime: Any) -> None:
    actor = make_actor(runtime, client, "ann@acme.test")
    s = runtime.settings
    for key in (s.secret_key, crypto.derive_key(s, "oauth-state")):
        client.set_cookie("session", _cookie(key, {"rep_id": actor.rep_id, "session_version": 1}),
                          domain="localhost")
        assert client.get("/api/v1/me").status_code == 401
    # The session key itself works (the cookie Flask would have made).
    good = _cookie(crypto.derive_key(s, "flask-session"),
                   {"rep_id": actor.rep_id, "session_version": 1})
    client.set_cookie("session", good, domain="localhost")
    assert client.get("/api/v1/me").status_code == 200
