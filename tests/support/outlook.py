"""Test helpers for the Outlook add-in: the settings that point the pane's token checks at the
Microsoft fake's keys, and a token no one signed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt

from addin_server.config import Settings
from tests.conftest import REDIS_URL, TEST_ENCRYPTION_KEY
from tests.fakes.microsoft import API_ID, ISSUER, TENANT, MicrosoftFake
from tests.fakes.server import serve

__all__ = ["API_ID", "ISSUER", "OTHER_TENANT", "TENANT", "entra_server",
           "ms_db_settings", "ms_settings", "unsigned_token"]

OTHER_TENANT = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


def unsigned_token(claims: dict[str, Any]) -> str:
    """An `alg: none` token (PyJWT writes one when asked for algorithm=None)."""
    return jwt.encode(claims, None, algorithm="none")


def entra_server() -> Iterator[tuple[MicrosoftFake, str]]:
    """The Microsoft fake serving its tenants' keys on 127.0.0.1 (plain HTTP: PyJWKClient does not
    insist on TLS): (the fake, its base URL). Each test module wraps it in a module-scoped
    `entra` fixture."""
    fake = MicrosoftFake()
    with serve(fake.wsgi) as url:
        fake.base_url = url
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
