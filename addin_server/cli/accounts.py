"""`addin-server init-db` and `create-rep`: the database, and a rep with an API token."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from addin_server.accounts import create_rep, issue_token
from addin_server.db import session_scope
from addin_server.migrate import upgrade
from addin_server.models import Rep
from addin_server.runtime import runtime
from addin_server.validation import Errors, parse_email


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or migrate the database that DATABASE_URL names (SQLite in instance/ by default)."""
    rt = runtime()
    upgrade(rt.engine)
    click.echo(f"database ready: {rt.engine.url.render_as_string(hide_password=True)}")


@click.command("create-rep")
@with_appcontext
@click.argument("email")
@click.option("--org", "org_name", required=True, help="Organisation name (made if new).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--name", default="", help="Display name, used as {{sender_name}}.")
@click.option("--admin", is_flag=True, help="Sees the whole organisation's work.")
@click.option("--local-mailbox/--no-local-mailbox", default=None,
              help="Give the rep the development mailbox (default: when DEFAULT_MAILBOX_PROVIDER "
                   "is local).")
def create_rep_command(
    email: str, org_name: str, timezone: str, name: str, admin: bool, local_mailbox: bool | None
) -> None:
    """Create a rep and print a new API token as the last line."""
    errors = Errors()
    address = parse_email(email, "EMAIL", errors)
    if address is None:
        raise click.BadParameter("not a valid email address", param_hint="EMAIL")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(
            f"unknown time zone {timezone!r}", param_hint="--timezone"
        ) from exc
    rt = runtime()
    if local_mailbox is None:
        local_mailbox = rt.settings.default_mailbox_provider == "local"
    with session_scope(rt.sessions) as session:
        if session.scalar(select(Rep).where(Rep.email == address)) is not None:
            raise click.ClickException(f"a rep with the address {address} exists already")
        rep = create_rep(session, email=address, org_name=org_name, now=rt.now(),
                         timezone=timezone, name=name, admin=admin, local_mailbox=local_mailbox)
        token = issue_token(session, rep, rt.now(), label="create-rep")
        click.echo(f"rep {rep.id} {rep.email} in {org_name}{' (admin)' if admin else ''}")
        click.echo("API token (shown once; only its hash is stored):")
        click.echo(token)
