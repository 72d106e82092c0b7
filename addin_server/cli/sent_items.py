"""`addin-server sync-sent-tasks`: complete the email tasks reps sent from Gmail or Outlook
(one pass of enrollments/sent_items.py).

The dispatcher queues the same pass every SENT_SYNC_SECONDS (workers/duties.py); this runs it
by hand. `sync-outlook-sent` (once an Outlook-only pass that needed cron) is kept as an alias
so that an existing cron entry keeps working; it is no longer needed."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from addin_server.enrollments.sent_items import sync_all
from addin_server.runtime import runtime


@click.command("sync-sent-tasks")
@with_appcontext
def sync_sent_tasks_command() -> None:
    """Match the reps' Gmail and Outlook Sent items to their open email tasks (one pass)."""
    rt = runtime()
    done = sync_all(rt, rt.now())
    total = sum(len(v) for v in done.values())
    click.echo(f"{total} task(s) completed for {len(done)} rep(s) checked")
