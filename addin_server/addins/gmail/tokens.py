"""Verifying the ID tokens Google attaches to Gmail add-on requests.

Two tokens per request: the `Authorization: Bearer` system ID token (proves Google sent the
request for *our* add-on: audience = the endpoint's public URL, email = the add-on's service
account) and the `userIdToken` in the event (says which Google user clicked: audience = the
add-on's OAuth client id). Both are RS256 JWTs checked by google-auth against Google's
certificates, which we cache: google-auth would otherwise fetch them on every request.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.transport.requests
import requests
from google.auth import exceptions as google_exceptions
from google.auth import transport
from google.oauth2 import id_token

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
DEFAULT_CERTS_TTL = 3600.0
_MAX_AGE = re.compile(r"max-age=(\d+)")


class InvalidToken(Exception):
    """The token is missing, forged, expired, or not meant for us."""


class CertificatesUnavailable(Exception):
    """Google's certificates could not be fetched: we cannot tell a good token from a bad one."""


def _google_request(ca_bundle: str) -> transport.Request:
    """google-auth's requests transport trusting GOOGLE_CA_BUNDLE when it is set."""
    session = requests.Session()
    if ca_bundle:
        session.verify = ca_bundle
    return google.auth.transport.requests.Request(session=session)


class CachingRequest(transport.Request):
    """A google-auth transport that keeps successful GET responses for their Cache-Control
    max-age (Google's certificate endpoints send one), so that certificates are fetched once
    per rotation period, not once per request."""

    def __init__(
        self,
        inner: transport.Request | None = None,
        *,
        default_ttl: float = DEFAULT_CERTS_TTL,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner or google.auth.transport.requests.Request()
        self._default_ttl = default_ttl
        self._timer = timer
        self._cache: dict[str, tuple[float, transport.Response]] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # how many times we really went to the network (tests, metrics)

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> transport.Response:
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers,
                               timeout=timeout, **kwargs)
        now = self._timer()
        with self._lock:
            hit = self._cache.get(url)
            if hit is not None and hit[0] > now:
                return hit[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or 10)
        self.fetches += 1
        if response.status == 200:
            with self._lock:
                self._cache[url] = (now + self._ttl(response), response)
        return response

    def _ttl(self, response: transport.Response) -> float:
        cache_control = {k.lower(): v for k, v in dict(response.headers or {}).items()}.get(
            "cache-control", "")
        m = _MAX_AGE.search(cache_control)
        return float(m.group(1)) if m else self._default_ttl


@dataclass(frozen=True)
class GoogleUser:
    email: str
    sub: str


class GoogleTokenVerifier:
    def __init__(self, certs_url: str, request: transport.Request | None = None, *,
                 ca_bundle: str = "") -> None:
        self.certs_url = certs_url
        self.request = request or CachingRequest(_google_request(ca_bundle))

    def _claims(self, token: str, audience: str) -> Mapping[str, Any]:
        if not token or not audience:
            raise InvalidToken("no token or no audience configured")
        try:
            claims = id_token.verify_token(token, self.request, audience=audience,
                                           certs_url=self.certs_url)
        except google_exceptions.TransportError as exc:
            raise CertificatesUnavailable(str(exc)) from exc
        except Exception as exc:
            # google-auth raises ValueError / GoogleAuthError, pyjwt (JWKS certs) its own
            # errors: all mean the same thing to us.
            raise InvalidToken(type(exc).__name__) from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise InvalidToken("issuer")
        return claims

    def verify_system_token(self, token: str, *, audience: str, service_account: str) -> None:
        """Google's request for our add-on, or InvalidToken. The service account is compared
        exactly: checking only its shape would accept any project's add-on."""
        claims = self._claims(token, audience)
        if not service_account or claims.get("email") != service_account:
            raise InvalidToken("service account")
        if claims.get("email_verified") is False:
            raise InvalidToken("email not verified")

    def verify_user_token(self, token: str, *, client_id: str) -> GoogleUser:
        claims = self._claims(token, client_id)
        email = claims.get("email")
        sub = claims.get("sub")
        if not isinstance(email, str) or not isinstance(sub, str) or not email or not sub:
            raise InvalidToken("no email")
        if claims.get("email_verified") is not True:
            raise InvalidToken("email not verified")
        return GoogleUser(email=email.lower(), sub=sub)
