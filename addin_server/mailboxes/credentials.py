"""A mailbox's OAuth grant at rest: one encrypted JSON blob in `Mailbox.credentials`.

Google: the refresh token and the granted scopes. Microsoft: msal's SerializableTokenCache (it
holds the refresh token) and the account it belongs to. Encrypted with crypto.py (Fernet, key
rotation); never logged. A refresh token is never replaced by an empty one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from addin_server import crypto
from addin_server.config import Settings
from addin_server.models import Mailbox


class MissingGrant(Exception):
    """The mailbox has no usable stored grant (never connected, or nothing to refresh with)."""


@dataclass(frozen=True)
class GoogleGrant:
    refresh_token: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class MicrosoftGrant:
    cache: str  # msal SerializableTokenCache.serialize()
    home_account_id: str
    username: str


def _load(settings: Settings, row: Mailbox) -> dict[str, Any]:
    if not row.credentials:
        raise MissingGrant(f"mailbox {row.id} has no stored grant")
    try:
        data: dict[str, Any] = json.loads(crypto.decrypt(settings, row.credentials))
    except crypto.SecretsUnavailable as exc:
        # The sends wait (held as for a disconnected mailbox) rather than fail: restoring the
        # key or reconnecting the mailbox resumes them.
        raise MissingGrant(f"the stored grant of mailbox {row.id} cannot be decrypted with "
                           f"ENCRYPTION_KEYS ({exc})") from exc
    return data


def _store(settings: Settings, row: Mailbox, data: dict[str, Any]) -> None:
    row.credentials = crypto.encrypt(settings, json.dumps(data))


def load_google(settings: Settings, row: Mailbox) -> GoogleGrant:
    data = _load(settings, row)
    if data.get("kind") != "google" or not data.get("refresh_token"):
        raise MissingGrant(f"mailbox {row.id} holds no Google refresh token")
    return GoogleGrant(data["refresh_token"], tuple(data.get("scopes", ())))


def save_google(settings: Settings, row: Mailbox, refresh_token: str | None,
                scopes: list[str]) -> None:
    """Store a new grant. Google returns no refresh token when consent was not shown again: the
    one already stored stays (never overwritten with an empty one)."""
    if not refresh_token:
        old = load_google(settings, row)  # raises MissingGrant when there is none to keep
        refresh_token = old.refresh_token
    _store(settings, row, {"kind": "google", "refresh_token": refresh_token,
                           "scopes": sorted(scopes)})


def load_microsoft(settings: Settings, row: Mailbox) -> MicrosoftGrant:
    data = _load(settings, row)
    if data.get("kind") != "microsoft" or not data.get("cache"):
        raise MissingGrant(f"mailbox {row.id} holds no Microsoft token cache")
    return MicrosoftGrant(data["cache"], data["home_account_id"], data.get("username", ""))


def cache_has_refresh_token(cache_blob: str) -> bool:
    try:
        return bool(json.loads(cache_blob).get("RefreshToken"))
    except ValueError:
        return False


def save_microsoft(settings: Settings, row: Mailbox, grant: MicrosoftGrant) -> bool:
    """Store msal's cache. A cache without a refresh token (msal drops it on some failures) is
    not written over one that has it. Returns whether it was stored."""
    if not cache_has_refresh_token(grant.cache):
        return False
    _store(settings, row, {"kind": "microsoft", "cache": grant.cache,
                           "home_account_id": grant.home_account_id,
                           "username": grant.username})
    return True
