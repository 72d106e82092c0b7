"""Secrets at rest (refresh tokens, token caches): Fernet from the `cryptography` package; and
the keys derived from SECRET_KEY, one per purpose.

ENCRYPTION_KEYS is a comma-separated list of Fernet keys. The first encrypts; every key
decrypts, so a key is rotated by putting a new one first, running `addin-server rotate-keys`
(re-encrypts every stored secret with the first key), then removing the old one.
"""

from __future__ import annotations

from typing import Literal

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from addin_server.config import Settings

# What a key derived from SECRET_KEY is for (docs/configuration.md lists them). Unsubscribe links
# are not here: itsdangerous derives their key with the salt "unsubscribe" (links already sent
# must keep working), as Flask-WTF derives the CSRF token's from the session key.
Purpose = Literal["flask-session", "oauth-state", "graph-client-state"]


def derive_key(settings: Settings, purpose: Purpose) -> bytes:
    """A 32-byte key for one purpose (HKDF-SHA256 of SECRET_KEY, the purpose as `info`): a value
    signed or encrypted for one purpose tells nothing about the key of another, nor about
    SECRET_KEY itself."""
    if not settings.secret_key:
        raise SecretsUnavailable("set SECRET_KEY")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"addin-server/" + purpose.encode())
    return hkdf.derive(settings.secret_key.encode())


class SecretsUnavailable(Exception):
    """No key is configured, or none of them opens a stored secret."""


def _box(settings: Settings) -> MultiFernet:
    if not settings.encryption_keys:
        raise SecretsUnavailable("set ENCRYPTION_KEYS (Fernet keys) to store secrets")
    return MultiFernet([Fernet(k.strip().encode()) for k in settings.encryption_keys])


def encrypt(settings: Settings, plaintext: str) -> bytes:
    return _box(settings).encrypt(plaintext.encode())


def decrypt(settings: Settings, token: bytes) -> str:
    try:
        return _box(settings).decrypt(token).decode()
    except InvalidToken as exc:
        raise SecretsUnavailable("no configured key opens this secret") from exc


def rotate(settings: Settings, token: bytes) -> bytes:
    """Re-encrypt with the first key."""
    return _box(settings).rotate(token)


def new_key() -> str:
    return Fernet.generate_key().decode()
