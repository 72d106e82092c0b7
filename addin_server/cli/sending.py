"""`addin-server worker`, `dispatch` and `why SEND_ID`."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click
from flask.cli import with_appcontext
from rq import Queue, Worker
from sqlalchemy import select

from addin_server.enrollments.status import mailbox_reason
from addin_server.models import Mailbox, Send, SendLog
from addin_server.runtime import runtime
from addin_server.sending import dispatcher as send_pipeline
from addin_server.sending.outbox import waiting_reason
from addin_server.workers import dispatch
from addin_server.workers.crm import install_crm_listener
from addin_server.workers.runtime import install_runtime
from addin_server.workers.worker import SendWorker

log = logging.getLogger(__name__)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--fork", is_flag=True,
              help="Fork a work horse per job (RQ's Worker) instead of running jobs in-process.")
@click.option("--name", default=None, help="Worker name (default: RQ's random one).")
def worker_command(burst: bool, fork: bool, name: str | None) -> None:
    """Run an RQ worker (with the scheduler) on the send queue. SIGTERM: finish the current job,
    then stop (a second signal stops at once; the outbox recovers that send)."""


    rt = runtime()
    install_runtime(rt)
    install_crm_listener()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    connection = rt.redis()
    queue = Queue(rt.settings.queue_name, connection=connection)
    worker_class = Worker if fork else SendWorker
    worker = worker_class([queue], connection=connection, name=name)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


@click.command("dispatch")
@with_appcontext
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=1.0, show_default=True, type=float,
              help="Seconds between passes. Each pass promotes what is due; the repairs and "
                   "the periodic duties run at most once a second.")
def dispatch_command(once: bool, interval: float) -> None:
    """Move due sends from the database onto RQ, repair what RQ lost, and run the periodic
    duties (workers/duties.py: out-of-office resumes, due tasks, reply polls, ...)."""

    rt = runtime()
    install_crm_listener()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dispatcher = dispatch.Dispatcher(rt)
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while True:
        try:
            result = dispatcher.run_pass()
        except Exception:
            if once:
                raise
            # The database or Redis is away: try again next pass, nothing is lost.
            log.exception("dispatcher pass failed")
        else:
            if once:
                click.echo(str(result))
                return
            if result.promoted or result.requeued or result.expired:
                log.info("%s", result)
        if stop.wait(interval):
            return


@click.command("why")
@with_appcontext
@click.argument("send_id", type=int)
def why_command(send_id: int) -> None:
    """Explain a send: state, due time, reason, attempts, its RQ job, history."""


    rt = runtime()
    with rt.sessions() as session:
        send = session.get(Send, send_id)
        if send is None:
            raise click.ClickException(f"no send {send_id}")
        now = rt.now()
        mailbox = session.get(Mailbox, send.mailbox_id) if send.mailbox_id else None
        # A waiting send: what holds it now (a mailbox that cannot send outranks pacing).
        reason = ((waiting_reason(session, send, now) or send.reason)
                  if send.state.value in ("scheduled", "queued") else send.reason)
        lines: list[tuple[str, Any]] = [
            ("state", send.state.value),
            ("due", f"{send.due_at:%Y-%m-%d %H:%M:%S} UTC"
                    + (" (due now)" if send.due_at <= now else "")),
            ("reason", reason or "-"),
            ("attempts", send.attempts),
            ("lease until", f"{send.lease_until:%Y-%m-%d %H:%M:%S} UTC"
             if send.lease_until else "-"),
            ("mailbox", f"{mailbox.address} ({mailbox.provider.value}): "
                        f"{mailbox_reason(mailbox, now) or 'can send'}" if mailbox else "none"),
            ("to", send.to_addr or "-"),
            ("subject", send.subject or "-"),
            ("draft id", send.draft_id or "-"),
            ("message", f"{send.provider_message_id} {send.rfc_message_id}"
             if send.provider_message_id else "-"),
        ]
        ((status, origin),) = send_pipeline.job_states(rt.redis(), [send_pipeline.job_id(send_id)])
        lines.append(("RQ job", f"{send_pipeline.job_id(send_id)}: "
                      + (f"{status or '?'} on queue {origin}" if status or origin else "none")))
        for label, value in lines:
            click.echo(f"{label:>12}: {value}")
        click.echo("     history:")
        for entry in session.scalars(select(SendLog).where(SendLog.send_id == send_id)
                                     .order_by(SendLog.id)):
            arrow = f"{entry.from_state or '(new)'} -> {entry.to_state}"
            click.echo(f"  {entry.at:%Y-%m-%d %H:%M:%S}  {arrow:<24} {entry.note}")
