"""Redis memory with 1,000,000 future sends in PostgreSQL (target < 20 MB: Redis holds only
what is due), and the dispatcher's tick time at that size (target < 50 ms).

Floors measured in the same run: Redis memory of our database before the dispatcher ran, and
what the same sends would cost as RQ scheduled jobs (measured on 10,000, scaled); for the
tick, a `SELECT 1` round trip to the same PostgreSQL.

    python -m bench.redis_memory [--future 1000000] [--due 100]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from sqlalchemy import text

from addin_server.runtime import Runtime
from addin_server.workers import dispatch
from bench.harness import (
    bench_settings,
    machine_note,
    median,
    percentile,
    pg_schema,
    seed_due_sends,
)


def db_bytes(redis: Redis, pattern: str = "*") -> int:
    """Bytes held by the keys of our Redis database (MEMORY USAGE, summed)."""
    total = 0
    for key in redis.scan_iter(pattern, count=1000):
        total += int(redis.memory_usage(key, samples=0) or 0)
    return total


def insert_future_sends(rt: Runtime, n: int) -> None:
    """n people, enrollments and scheduled sends due over the next 30 days, in SQL."""
    now = rt.now()
    with rt.engine.begin() as conn:
        ids = conn.execute(text(
            "SELECT e.org_id, e.campaign_id, e.rep_id, s.mailbox_id FROM enrollments e "
            "JOIN sends s ON s.enrollment_id = e.id LIMIT 1")).one()
        org, campaign, rep, mailbox = ids
        base = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM people")).scalar_one())
        params = {"org": org, "campaign": campaign, "rep": rep, "mailbox": mailbox, "now": now,
                  "n": n, "base": base}
        conn.execute(text(
            "INSERT INTO people (id, org_id, email, first_name, last_name, company, title, "
            "fields, created_at) SELECT :base + g, :org, 'f' || g || '@future.test', 'F', '', "
            "'', '', '{}', :now FROM generate_series(1, :n) g"), params)
        conn.execute(text(
            "INSERT INTO enrollments (id, org_id, campaign_id, person_id, rep_id, status, "
            "start_date, current_position, outcome, stop_reason, created_at, updated_at) "
            "SELECT :base + g, :org, :campaign, :base + g, :rep, 'active', CAST(:now AS date), "
            "0, '', '', :now, :now FROM generate_series(1, :n) g"), params)
        conn.execute(text(
            "INSERT INTO sends (org_id, enrollment_id, rep_id, position, mailbox_id, state, "
            "planned_at, due_at, attempts, reason, to_addr, subject, body_html, created_at, "
            "updated_at) SELECT :org, :base + g, :rep, 0, :mailbox, 'scheduled', d, d, 0, '', "
            "'', '', '', :now, :now FROM (SELECT g, CAST(:now AS timestamptz) + interval '1 hour' "
            "+ (g % 43200) * interval '1 minute' AS d FROM generate_series(1, :n) g) x"),
            params)
        for table in ("people", "enrollments"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    with pg_schema() as url:
        settings = bench_settings(url)
        rt = Runtime.from_settings(settings)
        redis = rt.redis()
        seed_due_sends(rt, args.due)
        started = time.perf_counter()
        insert_future_sends(rt, args.future)
        print(f"inserted {args.future:,} future sends in {time.perf_counter() - started:.0f} s")
        ours = f"*{settings.queue_name}*"
        before = db_bytes(redis)
        first = timed(lambda: dispatch.tick(rt, datetime.now(UTC)), 1)[0]
        jobs = db_bytes(redis, "rq:job:send-*") + db_bytes(redis, ours)
        after = db_bytes(redis)
        ticks = timed(lambda: dispatch.tick(rt, datetime.now(UTC)), args.ticks)
        # The same, warm, when `due` more sends fall due (the first tick above also paid for
        # this process's first queries: statement compilation, prepared statements).
        with rt.engine.begin() as conn:
            conn.execute(text(
                "UPDATE sends SET due_at = :now WHERE id IN (SELECT id FROM sends "
                "WHERE state = 'scheduled' ORDER BY due_at LIMIT :n)"),
                {"now": datetime.now(UTC), "n": args.due})
        warm = timed(lambda: dispatch.tick(rt, datetime.now(UTC)), 1)[0]
        with rt.engine.connect() as conn:
            floor = timed(lambda: conn.execute(text("SELECT 1")).scalar(), args.ticks)
        # What RQ would hold if the future sends were scheduled jobs instead of rows.
        scratch = Queue(f"{settings.queue_name}-scratch", connection=redis)
        sample = 10_000
        later = datetime.now(UTC) + timedelta(days=1)
        pipe = redis.pipeline()
        for i in range(sample):
            scratch.enqueue_at(later, "addin_server.workers.send.send_email", i,
                               job_id=f"scratch-{settings.queue_name}-{i}", pipeline=pipe)
        pipe.execute()
        scheduled = db_bytes(redis, f"rq:job:scratch-{settings.queue_name}-*") + db_bytes(
            redis, f"*{settings.queue_name}-scratch*")
        for key in redis.scan_iter(f"rq:job:scratch-{settings.queue_name}-*", count=1000):
            redis.delete(key)
        for key in redis.scan_iter(f"*{settings.queue_name}*", count=1000):
            redis.delete(key)
        rt.engine.dispose()
    mb = 1024 * 1024
    print(machine_note())
    print(f"Redis memory, {args.future:,} future + {args.due} due sends in PostgreSQL: "
          f"{after / mb:6.2f} MB in our Redis database "
          f"({jobs / mb:.2f} MB of it for the {args.due} due jobs); target < 20 MB")
    print(f"  floor: our Redis database before the dispatcher ran: {before / mb:6.2f} MB")
    print(f"  as RQ scheduled jobs instead: {scheduled / sample * args.future / mb:8.1f} MB "
          f"(measured on {sample:,}, scaled)")
    print(f"dispatcher tick with {args.future:,} future sends: median {median(ticks):.1f} ms, "
          f"p95 {percentile(ticks, 95):.1f} ms over {args.ticks}; promoting {args.due} "
          f"{warm:.1f} ms (the process's first tick, promoting {args.due}: {first:.1f} ms); "
          f"target < 50 ms")
    print(f"  floor: SELECT 1 round trip median {median(floor):.2f} ms")


if __name__ == "__main__":
    main()
