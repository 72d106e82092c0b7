"""`addin-server rotate-keys`: re-encrypt every stored secret with the first ENCRYPTION_KEYS key,
so that an old key can then be removed (crypto.py explains the rotation)."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import crypto
from addin_server.config import Settings
from addin_server.models import CrmConnection, Mailbox
from addin_server.runtime import runtime

# Every (model, column) pair holding Fernet tokens: a column missing here would become
# unreadable once the old key is removed. A new secret column is added here.
SECRET_COLUMNS: list[tuple[Any, str]] = [
    (Mailbox, "credentials"),  # mailbox OAuth grants (Google refresh token, msal's cache)
    (CrmConnection, "refresh_token"),  # Salesforce
    (CrmConnection, "access_token"),
]


def rotate_secrets(session: Session, settings: Settings) -> int:
    """Re-encrypt every stored secret with the first key; returns how many. Does not commit."""
    count = 0
    for model, column in SECRET_COLUMNS:
        for row in session.scalars(select(model).where(getattr(model, column).is_not(None))):
            setattr(row, column, crypto.rotate(settings, getattr(row, column)))
            count += 1
    return count


@click.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every stored secret (mailbox grants, Salesforce tokens) with the first key."""
    rt = runtime()
    with rt.sessions.begin() as session:
        count = rotate_secrets(session, rt.settings)
    click.echo(f"re-encrypted {count} secret(s) with the first key")
