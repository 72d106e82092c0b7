"""`addin-server simulate-inbound reply|bounce|ooo SEND_ID` (DEV_MODE only): the person answers
one of our emails sent from the local development mailbox, through the real inbound path
(inbound/simulate.py), so stop-on-reply can be seen without a real mailbox."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from addin_server.inbound.simulate import KINDS, CannotSimulate, simulate_inbound
from addin_server.runtime import runtime


@click.command("simulate-inbound")
@with_appcontext
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("send_id", type=int)
def simulate_inbound_command(kind: str, send_id: int) -> None:
    """Make the person reply to, bounce or be out of office for send SEND_ID (DEV_MODE)."""
    rt = runtime()
    if not rt.settings.dev_mode:
        raise click.ClickException("simulate-inbound runs only with DEV_MODE=1 (local "
                                   "development)")
    try:
        outcome = simulate_inbound(rt, kind, send_id)
    except CannotSimulate as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{outcome.kind}: {outcome.action}"
               + (f" (enrollment {outcome.enrollment_id})" if outcome.enrollment_id else ""))
