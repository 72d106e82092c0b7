"""`addin-server init-db`, `create-rep`, `org-domains`, `set-admin`: the database, reps with
API tokens, the domains an organisation owns, roles."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from addin_server.accounts import create_rep, issue_token, set_admin, set_org_domains
from addin_server.accounts import org_domains as accounts_org_domains
from addin_server.db import session_scope
from addin_server.migrate import upgrade
from addin_server.models import Organisation, Rep
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


@click.command("org-domains")
@with_appcontext
@click.argument("org_name")
@click.argument("domains", nargs=-1)
def org_domains_command(org_name: str, domains: tuple[str, ...]) -> None:
    """Show, or set, the email domains an organisation owns: a Google or Microsoft account is
    linked to a rep only at one of them."""
    rt = runtime()
    with session_scope(rt.sessions) as session:
        org = session.scalar(select(Organisation).where(Organisation.name == org_name))
        if org is None:
            raise click.ClickException(f"no organisation is named {org_name!r}")
        if domains:
            set_org_domains(org, domains)
        click.echo(", ".join(sorted(accounts_org_domains(org))) or "(none)")


@click.command("set-admin")
@with_appcontext
@click.argument("email")
@click.option("--admin/--no-admin", default=True, help="Make the rep an admin, or not.")
def set_admin_command(email: str, admin: bool) -> None:
    """Change a rep's role; the rep's web sessions end (they sign in again)."""
    rt = runtime()
    with session_scope(rt.sessions) as session:
        rep = session.scalar(select(Rep).where(Rep.email == email.strip().lower()))
        if rep is None:
            raise click.ClickException(f"no rep has the address {email}")
        set_admin(rep, admin)
        click.echo(f"rep {rep.id} {rep.email}: {'admin' if admin else 'not admin'}")
