"""Large launches in the background: an RQ job, its progress in Redis, all or nothing.

A launch above the size one request should hold (Settings.max_people_per_launch) is
checked in the request (a bad file is refused at once, 422), then handed to a job with its
input: the answer is 202 with a launch id, and `GET /api/v1/launches/{id}` reads the progress
kept here. The job runs the same `enrollments.launch.launch` in one transaction: when it fails
the launch ends `failed` with its reason and no row of it stays.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from rq import Queue

from addin_server.db import session_scope
from addin_server.enrollments import launch as launches
from addin_server.enrollments.checks import dns_mx_check
from addin_server.enrollments.people import decode_csv, parse_columns, read_csv
from addin_server.models import Campaign, Rep
from addin_server.validation import Errors, ValidationFailed
from addin_server.workers.runtime import worker_runtime

log = logging.getLogger(__name__)

TTL = 7 * 24 * 3600  # a launch's progress record is kept a week
JOB_TIMEOUT = 1800


def _key(launch_id: str) -> str:
    return f"launch:{launch_id}"


def start(redis: Any, queue: str, rep: Rep, campaign: Campaign, total: int,
          launch_input: dict[str, Any]) -> str:
    """Record a queued launch and enqueue its job; its id."""
    launch_id = uuid.uuid4().hex
    pipe = redis.pipeline()
    pipe.hset(_key(launch_id), mapping={
        "org_id": rep.org_id, "rep_id": rep.id, "campaign_id": campaign.id,
        "status": "queued", "total": total, "done": 0, "phase": "", "reason": ""})
    pipe.set(_key(launch_id) + ":input", json.dumps(launch_input), ex=TTL)
    pipe.expire(_key(launch_id), TTL)
    pipe.execute()
    Queue(queue, connection=redis).enqueue(
        "addin_server.workers.launches.run_launch", launch_id, job_id=f"launch-{launch_id}",
        result_ttl=0, failure_ttl=TTL, job_timeout=JOB_TIMEOUT)
    return launch_id


def status(redis: Any, launch_id: str) -> dict[str, str] | None:
    raw = redis.hgetall(_key(launch_id))
    if not raw:
        return None
    return {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in raw.items()}


def run_launch(launch_id: str) -> None:
    """The job: read the input again (as the request did), launch, record the outcome."""
    runtime = worker_runtime()
    redis = runtime.redis()
    key = _key(launch_id)
    record = status(redis, launch_id)
    raw = redis.get(key + ":input")
    if record is None or raw is None:
        return
    data = json.loads(raw)
    redis.hset(key, mapping={"status": "running"})

    def progress(phase: str, done: int) -> None:
        redis.hset(key, mapping={"phase": phase, "done": done})

    try:
        with session_scope(runtime.sessions) as session:
            rep = session.get(Rep, int(record["rep_id"]))
            campaign = session.get(Campaign, int(record["campaign_id"]))
            if rep is None or campaign is None or campaign.org_id != rep.org_id:
                raise ValueError("the campaign or the rep is gone")
            errors = Errors()
            parsed = read_csv(decode_csv(data["csv"].encode()), errors,
                              limit=int(record["total"]), skip_invalid=data["skip_invalid"],
                              columns=parse_columns(data["columns"], errors))
            options = launches.parse_options(data["options"], errors)
            errors.raise_if_any()
            settings = runtime.settings
            result = launches.launch(
                session, rep, campaign, parsed.people, options, runtime.now(),
                dns_mx_check(settings.mx_nameservers, settings.mx_timeout_seconds), progress)
            outcome = {"enrollments": len(result.enrolled), "skipped": len(result.skipped),
                       "result": {
                           "skipped": [{"email": e, "reason": r} for e, r in result.skipped],
                           "warnings": [{"email": w.email, "step": None if w.position is None
                                         else w.position + 1, "code": w.code,
                                         "message": w.message} for w in result.warnings],
                           "invalid": [{"line": b.line, "column": b.column,
                                        "message": b.message} for b in parsed.invalid]}}
    except ValidationFailed as exc:
        redis.hset(key, mapping={"status": "failed", "reason": str(exc)})
        return
    except Exception as exc:  # the transaction is rolled back: record why, nothing written
        log.exception("launch %s failed", launch_id)
        redis.hset(key, mapping={"status": "failed", "reason": f"{type(exc).__name__}: {exc}"})
        return
    redis.hset(key, mapping={"status": "done", "done": record["total"],
                             "result": json.dumps(outcome)})
    redis.delete(key + ":input")
