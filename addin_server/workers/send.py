"""The send job: `send_email(send_id)`, enqueued by the dispatcher as `send-<id>`
(sending/dispatcher.py names it by this module's dotted path). The work is sending/job.py's."""

from __future__ import annotations

from addin_server.sending.job import run_send
from addin_server.workers.runtime import worker_runtime


def send_email(send_id: int) -> str:
    """The RQ job (job id `send-<id>`)."""
    return run_send(worker_runtime(), send_id)
