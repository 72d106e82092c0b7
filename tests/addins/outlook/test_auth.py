"""The pane's bearer tokens: PyJWT against a JWKS served on 127.0.0.1, through the real
PyJWKClient; then the same through the pane's API (401s) and the oid+tid → rep link."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.addins.outlook.auth import KeysUnavailable, TokenRejected, TokenValidator
from addin_server.config import Settings
from addin_server.models import Rep
from addin_server.runtime import Runtime
from tests.conftest import make_actor
from tests.fakes.microsoft import MicrosoftFake
from tests.support.outlook import (
    API_ID,
    ISSUER,
    OTHER_TENANT,
    TENANT,
    entra_server,
    ms_db_settings,
    ms_settings,
    unsigned_token,
)

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def entra() -> Iterator[tuple[MicrosoftFake, str]]:
    yield from entra_server()




@pytest.fixture
def validator(entra: tuple[MicrosoftFake, str], tmp_path: Path) -> TokenValidator:
    return TokenValidator(ms_settings(Settings(instance_path=str(tmp_path)), entra[1]))


def test_valid_token_is_accepted(entra: tuple[MicrosoftFake, str],
                                 validator: TokenValidator) -> None:
    fake, _ = entra
    identity = validator.validate(fake.token(NOW), NOW + timedelta(minutes=5))
    assert identity.oid == "00000000-0000-0000-0000-0000000000a1"
    assert identity.tid == TENANT
    assert identity.username == "ann@acme.test"
    assert not identity.dev


def test_v1_style_audience_is_accepted(
    entra: tuple[MicrosoftFake, str], validator: TokenValidator
) -> None:
    identity = validator.validate(entra[0].token(NOW, aud=f"api://{API_ID}"), NOW)
    assert identity.tid == TENANT


def test_second_allowed_tenant_uses_its_own_keys_and_issuer(
    entra: tuple[MicrosoftFake, str], validator: TokenValidator
) -> None:
    fake, _ = entra
    token = fake.token(NOW, tid=OTHER_TENANT, iss=ISSUER.format(tenant=OTHER_TENANT))
    assert validator.validate(token, NOW).tid == OTHER_TENANT
    assert f"/{OTHER_TENANT}/discovery/v2.0/keys" in fake.requests


def _bad_tokens(fake: MicrosoftFake) -> dict[str, str]:
    t = fake.token
    return {
        "wrong audience": t(NOW, aud="00000003-0000-0000-c000-000000000000"),
        "issuer of another tenant": t(NOW, iss=ISSUER.format(tenant=OTHER_TENANT)),
        "v1 issuer": t(NOW, iss=f"https://sts.windows.net/{TENANT}/"),
        "tenant not allowed": t(NOW, tid="11111111-2222-4333-8444-555555555555",
                                iss=ISSUER.format(tenant="11111111-2222-4333-8444-555555555555")),
        "expired": t(NOW - timedelta(hours=2)),
        "not yet valid": t(NOW, nbf=int((NOW + timedelta(minutes=10)).timestamp())),
        "missing scope": t(NOW, scp="User.Read Mail.Send"),
        "no scp at all (app token)": t(NOW, scp=None, roles=["access_as_user"]),
        "alg none": unsigned_token({"aud": API_ID, "iss": ISSUER.format(tenant=TENANT),
                                    "tid": TENANT, "oid": "x", "scp": "access_as_user",
                                    "exp": int((NOW + timedelta(hours=1)).timestamp())}),
        "unknown kid": t(NOW, kid="k2"),
        "no tenant": t(NOW, tid=None),
        "no exp": t(NOW, exp=None),
        "exp past any date": t(NOW, exp=1e20),
        "not a jwt": "as_not-a-jwt",
    }


BAD_CASES = ["wrong audience", "issuer of another tenant", "v1 issuer", "tenant not allowed",
             "expired", "not yet valid", "missing scope", "no scp at all (app token)",
             "alg none", "unknown kid", "no tenant", "no exp", "exp past any date",
             "not a jwt"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_tokens_are_rejected(
    case: str, entra: tuple[MicrosoftFake, str], validator: TokenValidator
) -> None:
    token = _bad_tokens(entra[0])[case]
    with pytest.raises(TokenRejected):
        validator.validate(token, NOW)


def test_hs256_signed_with_the_public_key_is_rejected(
    entra: tuple[MicrosoftFake, str], validator: TokenValidator
) -> None:
    # The classic algorithm confusion: HMAC keyed with the published RSA key.
    from cryptography.hazmat.primitives import serialization

    public = entra[0].keys["k1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = jwt.decode(entra[0].token(NOW), options={"verify_signature": False})
    forged = _hmac_token(claims, public)  # PyJWT itself refuses to sign with a PEM key
    with pytest.raises(TokenRejected):
        validator.validate(forged, NOW)


def _hmac_token(claims: dict[str, Any], secret: bytes) -> str:
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_no_allowed_tenants_means_none_accepted(
    entra: tuple[MicrosoftFake, str], tmp_path: Path
) -> None:
    settings = ms_settings(Settings(instance_path=str(tmp_path)), entra[1]).with_(
        outlook_allowed_tenants=())
    with pytest.raises(TokenRejected, match="tenant"):
        TokenValidator(settings).validate(entra[0].token(NOW), NOW)


def test_dev_tokens_only_in_dev_mode(entra: tuple[MicrosoftFake, str], tmp_path: Path) -> None:
    dev = TokenValidator(ms_settings(Settings(instance_path=str(tmp_path), dev_mode=True),
                                     entra[1]))
    assert dev.dev_key is not None
    token = dev.dev_key.issue(dev.settings, "ann@acme.test", NOW)
    identity = dev.validate(token, NOW)
    assert identity.dev and identity.username == "ann@acme.test"
    prod = TokenValidator(ms_settings(Settings(instance_path=str(tmp_path)), entra[1]))
    assert prod.dev_key is None
    with pytest.raises(TokenRejected):
        prod.validate(token, NOW)


# --- through the pane's API, with the database ------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path, entra: tuple[MicrosoftFake, str]) -> Settings:
    return ms_db_settings(database_url, tmp_path, entra[1])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_accepts_valid_and_links_the_rep_once(
    entra: tuple[MicrosoftFake, str], runtime: Runtime, client: FlaskClient, clock: Any
) -> None:
    make_actor(runtime, client, "ann@acme.test")
    fake = entra[0]
    response = client.get("/outlook/api/me", headers=_bearer(fake.token(clock())))
    assert response.status_code == 200, response.json
    assert response.json["email"] == "ann@acme.test"
    with runtime.sessions() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "ann@acme.test"))
        assert rep is not None
        assert (rep.ms_oid, rep.ms_tid) == ("00000000-0000-0000-0000-0000000000a1", TENANT)
    # Later the user name may change: the oid+tid link still finds the rep.
    renamed = fake.token(clock(), preferred_username="ann.new@acme.test")
    assert client.get("/outlook/api/me", headers=_bearer(renamed)).json["email"] == \
        "ann@acme.test"
    # Another account claiming the same address does not take the rep over.
    other = fake.token(clock(), oid="00000000-0000-0000-0000-0000000000b2")
    response = client.get("/outlook/api/me", headers=_bearer(other))
    assert response.status_code == 403
    assert response.json["errors"][0]["field"] == "Authorization"


def test_api_unknown_user_is_403(
    entra: tuple[MicrosoftFake, str], runtime: Runtime, client: FlaskClient, clock: Any
) -> None:
    token = entra[0].token(clock(), preferred_username="nobody@acme.test")
    assert client.get("/outlook/api/me", headers=_bearer(token)).status_code == 403


@pytest.mark.parametrize("case", ["wrong audience", "expired", "missing scope", "alg none",
                                  "exp past any date",
                                  "unknown kid", "tenant not allowed"])
def test_api_rejects_bad_tokens_with_401(
    case: str, entra: tuple[MicrosoftFake, str], runtime: Runtime, client: FlaskClient
) -> None:
    make_actor(runtime, client, "ann@acme.test")
    response = client.get("/outlook/api/tasks", headers=_bearer(_bad_tokens(entra[0])[case]))
    assert response.status_code == 401
    assert response.json["errors"][0]["field"] == "Authorization"


def test_api_without_token_is_401_and_api_tokens_do_not_work(
    runtime: Runtime, client: FlaskClient
) -> None:
    actor = make_actor(runtime, client, "ann@acme.test")
    assert client.get("/outlook/api/tasks").status_code == 401
    assert client.get("/outlook/api/tasks", headers=actor.headers).status_code == 401


def test_unreachable_key_endpoint_is_503_not_401(
    entra: tuple[MicrosoftFake, str], runtime: Runtime, client: FlaskClient, clock: Any,
    tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ms_settings(Settings(instance_path=str(tmp_path)), f"http://127.0.0.1:{port}")
    with pytest.raises(KeysUnavailable):
        TokenValidator(settings).validate(entra[0].token(NOW), NOW)
    from addin_server import create_app

    down = Runtime(settings=runtime.settings.with_(
        microsoft_jwks_url=f"http://127.0.0.1:{port}/{{tenant}}/discovery/v2.0/keys"),
        engine=runtime.engine, sessions=runtime.sessions, clock=runtime.clock)
    make_actor(runtime, client, "ann@acme.test")
    response = create_app(runtime=down).test_client().get(
        "/outlook/api/me", headers=_bearer(entra[0].token(clock())))
    assert response.status_code == 503
