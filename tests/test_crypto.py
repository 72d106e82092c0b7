from __future__ import annotations

import pytest

from addin_server import crypto
from addin_server.config import Settings


def test_round_trip_and_rotation() -> None:
    old, new = crypto.new_key(), crypto.new_key()
    before = Settings(encryption_keys=(old,))
    token = crypto.encrypt(before, "1//refresh-token")
    assert b"refresh" not in token
    both = Settings(encryption_keys=(new, old))
    assert crypto.decrypt(both, token) == "1//refresh-token"
    rotated = crypto.rotate(both, token)
    assert crypto.decrypt(Settings(encryption_keys=(new,)), rotated) == "1//refresh-token"
    with pytest.raises(crypto.SecretsUnavailable):
        crypto.decrypt(Settings(encryption_keys=(new,)), token)


def test_no_key_is_a_clear_error() -> None:
    with pytest.raises(crypto.SecretsUnavailable, match="ENCRYPTION_KEYS"):
        crypto.encrypt(Settings(), "x")


def test_keys_derived_per_purpose_are_distinct_and_stable() -> None:
    s = Settings(secret_key="s3cret")
    keys = {p: crypto.derive_key(s, p) for p in ("flask-session", "oauth-state",
                                                 "graph-client-state")}
    assert len(set(keys.values())) == 3 and all(len(k) == 32 for k in keys.values())
    assert b"s3cret" not in b"".join(keys.values())
    assert crypto.derive_key(Settings(secret_key="s3cret"), "oauth-state") == keys["oauth-state"]
    assert crypto.derive_key(Settings(secret_key="other"), "oauth-state") != keys["oauth-state"]
