"""Secrets at rest (refresh tokens, token caches): Fernet from the `cryptography` package.

ENCRYPTION_KEYS is a comma-separated list of Fernet keys. The first encrypts; every key
decrypts, so a key is rotated by putting a new one first, running `addin-server rotate-keys`
(re-encrypts every stored secret with the first key), then removing the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from addin_server.config import Settings


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
