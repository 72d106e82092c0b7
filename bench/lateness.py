"""p99 lateness (sent time minus due time) at 100 due sends per second, with 4 workers and the
dispatcher passing every 0.2 s (target p99 <= 2 s).

Floors measured in the same run: how long one send's HTTP calls to the same fake take (p99 of
a bare loop): no send can be less late than that; and how many sends per second those bare
calls alone reach with 4 processes at once on this machine (the fake provider shares its
cores): a due rate above what the pipeline sustains makes lateness grow with the backlog.

    python -m bench.lateness [--rate 100] [--seconds 15] [--workers 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from addin_server.enums import SendState
from addin_server.models import Send
from addin_server.runtime import Runtime
from addin_server.workers import dispatch
from bench.harness import (
    Processes,
    bench_settings,
    machine_note,
    percentile,
    pg_schema,
    seed_due_sends,
    sent_count,
)
from bench.throughput import MESSAGE
from tests.fakes.provider import FakeProviderMailbox


def bare_send_seconds(fake_url: str, n: int) -> list[float]:
    from dataclasses import replace

    box = FakeProviderMailbox(fake_url, "rep@bench.test")
    out = []
    for i in range(n):
        start = time.perf_counter()
        sent = box.send_draft(box.create_draft(replace(MESSAGE, send_id=f"floor-{i}")))
        box.get_headers(sent.message_id, ["Message-ID"])
        out.append(time.perf_counter() - start)
    return out


def _bare_rate(fake_url: str, seconds: float, out: Any) -> None:
    from dataclasses import replace

    box = FakeProviderMailbox(fake_url, "rep@bench.test")
    end, n, tag = time.monotonic() + seconds, 0, f"{os.getpid()}-{time.time()}"
    while time.monotonic() < end:
        sent = box.send_draft(box.create_draft(replace(MESSAGE, send_id=f"par-{tag}-{n}")))
        box.get_headers(sent.message_id, ["Message-ID"])
        n += 1
    out.put(n / seconds)


def parallel_bare_rate(fake_url: str, processes: int = 4, seconds: float = 5) -> float:
    """Sends per second of the bare HTTP calls alone, `processes` loops at once."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_bare_rate, args=(fake_url, seconds, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return float(total)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    n = args.rate * args.seconds
    with pg_schema() as url:
        procs = Processes(bench_settings(url))
        try:
            fake = procs.start_fake()
            settings = bench_settings(url, fake)
            rt = Runtime.from_settings(settings)
            seed_due_sends(rt, n)
            procs.start_workers(args.workers, settings)
            t0 = datetime.now(UTC) + timedelta(seconds=3)
            with rt.engine.begin() as conn:
                # Due times spread evenly: `rate` sends fall due each second from t0.
                conn.execute(text(
                    "UPDATE sends SET due_at = :t0 + (id - (SELECT min(id) FROM sends)) "
                    "* (:step * interval '1 millisecond')"), {"t0": t0, "step": 1000 / args.rate})
            deadline = time.monotonic() + args.seconds + 300
            dispatcher = dispatch.Dispatcher(rt)  # as `addin-server dispatch --interval` runs it
            while time.monotonic() < deadline:
                dispatcher.run_pass(datetime.now(UTC))
                # A count while it runs (this process shares the cores), the rows at the end.
                if sent_count(rt) == n:
                    break
                time.sleep(args.interval)
            with rt.sessions() as s:
                rows: list[Any] = s.execute(select(Send.due_at, Send.sent_at).where(
                    Send.state == SendState.SENT)).all()
            floor = bare_send_seconds(fake, 200)
            ceiling = parallel_bare_rate(fake)
        finally:
            procs.stop()
    late = [(sent - due).total_seconds() for due, sent in rows]
    span = (max(sent for _, sent in rows) - min(due for due, _ in rows)).total_seconds()
    print(f"{len(late)} of {n} sends at {args.rate}/s with {args.workers} workers, dispatcher "
          f"every {args.interval} s: the pipeline sustained {len(rows) / span:.1f} sends/s")
    print(machine_note())
    print(f"lateness: p50 {percentile(late, 50):.2f} s, p99 {percentile(late, 99):.2f} s, "
          f"max {max(late):.2f} s; target p99 <= 2 s: "
          f"{'met' if percentile(late, 99) <= 2 else 'NOT met'}")
    print(f"  floor: one send's HTTP calls, bare loop p99 {percentile(floor, 99) * 1000:.0f} ms "
          f"(p50 {percentile(floor, 50) * 1000:.0f} ms)")
    print(f"  floor: the bare HTTP calls alone, 4 loops at once: {ceiling:.1f} sends/s on this "
          f"machine")


if __name__ == "__main__":
    main()
