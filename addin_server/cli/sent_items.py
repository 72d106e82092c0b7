"""`addin-server sync-sent-tasks`: complete email tasks the reps sent from Gmail (one pass).

The dispatcher tick queues the same pass every SENT_SYNC_SECONDS; this runs it by hand."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("sync-sent-tasks")
@with_appcontext
def sync_sent_tasks_command() -> None:
    """Match the reps' Gmail Sent items to their open email tasks."""
    from addin_server.enrollments.gmail_sent import sync_all

    rt = current_app.extensions["addin"]
    done = sync_all(rt, rt.now())
    total = sum(len(v) for v in done.values())
    click.echo(f"{total} task(s) completed for {len(done)} rep(s) checked")


def register(app: Flask) -> None:
    app.cli.add_command(sync_sent_tasks_command)
