"""Who is calling the Outlook task pane's API: a Microsoft Entra access token for our API.

The pane gets the token with MSAL.js nested app authentication (or the Office dialog fallback)
and sends it as `Authorization: Bearer`. We check it the way Microsoft's own add-in API sample
does: the signature against the tenant's JWKS, the issuer for the token's `tid`, our audience,
our delegated scope in `scp`, and the expiry (against the injected clock, not the wall clock).
Only tenants listed in OUTLOOK_ALLOWED_TENANTS are accepted (fail closed: none listed, none
accepted), because the first sign-in links a rep by the token's user name, which a foreign tenant
could claim.

Development mode (DEV_MODE=1, never on by default) signs tokens with a local RSA key kept in the
instance folder, so that the pane runs locally without an Entra app registration.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import accounts
from addin_server.config import Settings
from addin_server.models import Rep

DEV_KID = "addin-server-dev"
DEV_ISSUER = "urn:addin-server:dev"
DEV_TENANT = "dev"
LEEWAY = timedelta(seconds=60)
# A tenant id is a GUID; anything else never reaches the JWKS URL or the issuer.
_GUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.I)


class TokenRejected(Exception):
    """The bearer is not a token we accept (answered 401; the message says why)."""


class KeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched (answered 503: try again)."""


@dataclass(frozen=True)
class MsIdentity:
    """The caller, from a validated token."""

    oid: str
    tid: str
    username: str  # preferred_username / email / upn: a hint for the first link only
    name: str
    dev: bool = False
    # Entra's optional claim `xms_edov` (the email domain's owner is verified): the only proof
    # that `username` may link a rep on the first sign-in (accounts.rep_for_identity).
    email_verified: bool = False


def audiences(settings: Settings) -> list[str]:
    """The `aud` values we accept: the API's client id and its `api://` form (v2 tokens carry
    the GUID, v1 tokens may carry the App ID URI)."""
    aud = settings.outlook_api_audience
    if not aud:
        return []
    if aud.startswith("api://"):
        return [aud]
    return [aud, f"api://{aud}"]


def scope_uri(settings: Settings) -> str:
    """The full scope the pane requests, e.g. `api://<client id>/access_as_user`."""
    aud = settings.outlook_api_audience or "addin-server-dev"
    base = aud if "://" in aud else f"api://{aud}"
    return f"{base}/{settings.outlook_api_scope}"


class DevKey:
    """The local signing key of development mode, made on first use in the instance folder."""

    def __init__(self, instance_path: str) -> None:
        self.path = Path(instance_path) / "outlook-dev-key.pem"
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None

    def private_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> rsa.RSAPrivateKey:
        if self.path.exists():
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.path.touch(mode=0o600)
        self.path.write_bytes(pem)
        return key

    def issue(self, settings: Settings, email: str, now: datetime) -> str:
        """A token shaped like Entra's, for a rep's address, valid one hour."""
        claims = {
            "iss": DEV_ISSUER, "aud": audiences(settings)[:1] or ["addin-server-dev"],
            "tid": DEV_TENANT, "oid": f"dev:{email}", "preferred_username": email,
            "name": email, "scp": settings.outlook_api_scope,
            "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
        }
        return jwt.encode(claims, self.private_key(), algorithm="RS256",
                          headers={"kid": DEV_KID})


class TokenValidator:
    """Validates pane tokens. One per app: it keeps a PyJWKClient (with its key cache) per
    tenant JWKS URL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dev_key = DevKey(settings.instance_path) if settings.dev_mode else None
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def _jwks(self, tenant: str) -> jwt.PyJWKClient:
        url = self.settings.microsoft_jwks_url.replace("{tenant}", tenant)
        with self._lock:
            if url not in self._clients:
                self._clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600,
                                                     timeout=10)
            return self._clients[url]

    def validate(self, token: str, now: datetime) -> MsIdentity:
        """The caller's identity, or TokenRejected / KeysUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRejected("the token is not a JWT") from exc
        if header.get("alg") != "RS256":
            raise TokenRejected("the token must be signed with RS256")
        if self.dev_key is not None and header.get("kid") == DEV_KID:
            key: Any = self.dev_key.private_key().public_key()
            issuer = DEV_ISSUER
            accepted = audiences(self.settings)[:1] or ["addin-server-dev"]
        else:
            tid = unverified.get("tid")
            if not isinstance(tid, str) or not _GUID.match(tid):
                raise TokenRejected("the token names no tenant")
            if tid.lower() not in {t.strip().lower() for t in
                                   self.settings.outlook_allowed_tenants}:
                raise TokenRejected("this Microsoft tenant is not allowed to use the add-in")
            accepted = audiences(self.settings)
            if not accepted:
                raise TokenRejected("the server has no OUTLOOK_API_AUDIENCE configured")
            issuer = self.settings.microsoft_issuer.replace("{tenant}", tid)
            key = self._signing_key(tid, token)
        return self._decode(token, key, issuer, accepted, now)

    def _signing_key(self, tid: str, token: str) -> Any:
        try:
            return self._jwks(tid).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable("could not fetch the tenant's signing keys") from exc
        except jwt.PyJWTError as exc:  # unknown kid, malformed JWKS
            raise TokenRejected("the token's signing key is unknown") from exc

    def _decode(
        self, token: str, key: Any, issuer: str, accepted: list[str], now: datetime
    ) -> MsIdentity:
        try:
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience=accepted, issuer=issuer,
                # Times are checked below against the injected clock.
                options={"require": ["exp", "aud", "iss", "oid", "tid"], "verify_exp": False,
                         "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("the token is not for this API (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("the token's issuer does not match its tenant") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is invalid: {exc}") from exc
        _check_times(claims, now)
        scopes = str(claims.get("scp", "")).split()
        if self.settings.outlook_api_scope not in scopes:
            raise TokenRejected(f"the token lacks the scope {self.settings.outlook_api_scope}")
        username = next((str(claims[k]) for k in ("preferred_username", "email", "upn")
                         if claims.get(k)), "")
        return MsIdentity(oid=str(claims["oid"]), tid=str(claims["tid"]),
                          username=username.strip().lower(), name=str(claims.get("name", "")),
                          dev=claims["iss"] == DEV_ISSUER,
                          email_verified=accounts.edov_verified(claims))


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    def instant(name: str) -> datetime | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TokenRejected(f"the token's {name} is not a time")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:  # exp=1e20, NaN: no real token
            raise TokenRejected(f"the token's {name} is not a time") from exc

    exp, nbf = instant("exp"), instant("nbf")
    if exp is None or exp + LEEWAY <= now:
        raise TokenRejected("the token has expired")
    if nbf is not None and nbf - LEEWAY > now:
        raise TokenRejected("the token is not valid yet")


def rep_for_identity(session: Session, identity: MsIdentity,
                     allowed_tenants: tuple[str, ...]) -> Rep | None:
    """The rep behind a Microsoft identity (accounts.rep_for_identity: an allowed tenant only;
    linked by oid+tid, or on the first sign-in by a verified user name).

    Development tokens are matched by address only and never linked.
    """
    if identity.dev:
        return session.scalar(select(Rep).where(Rep.email == identity.username))
    return accounts.rep_for_identity(session, "microsoft", identity.oid, identity.username,
                                     verified=identity.email_verified, tenant=identity.tid,
                                     allowed_tenants=allowed_tenants)
