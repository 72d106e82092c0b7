"""`addin-server crm-sync`: the Salesforce sweep, once or in a loop."""

from __future__ import annotations

import logging
import time

import click

from addin_server.crm import sweep
from addin_server.runtime import runtime
from addin_server.workers import crm as jobs

log = logging.getLogger(__name__)


@click.command("crm-sync")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron).")
@click.option("--interval", default=10.0, show_default=True,
              help="Seconds between passes when looping.")
@click.option("--inline", is_flag=True,
              help="Do the pushes and pulls in this process instead of enqueueing RQ jobs.")
def crm_sync(once: bool, interval: float, inline: bool) -> None:
    """Push pending Salesforce sync rows, log stray activity, pull Task changes."""
    rt = runtime()
    enqueuer: sweep.Enqueuer = jobs.InlineEnqueuer(rt) if inline else jobs.RqEnqueuer(rt)
    while True:
        try:
            report = sweep.sweep(rt, enqueuer)
        except Exception as exc:  # the database or Redis is away: say so, try again
            if once:
                raise
            log.exception("crm-sync pass failed")
            click.echo(f"crm-sync: pass failed ({type(exc).__name__}); retrying", err=True)
        else:
            click.echo(f"crm-sync: adopted {report.adopted}, pushes {report.pushes}, "
                       f"batches {report.batches}, pulls {report.pulls}")
        if once:
            return
        time.sleep(interval)
