"""Sends per second through the whole pipeline (dispatcher, RQ, `addin-server worker`, render,
MIME, HTTP calls to a loopback fake provider) with 1, 2 and 4 workers, beside the floor: a bare
loop making the same HTTP requests (create draft, send it, read its Message-ID back) to the
same fake, measured before and after in the same run. Target: 2 workers >= 50% of the loop.

    python -m bench.throughput [--sends 400] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from addin_server.mailboxes.port import OutgoingMessage
from addin_server.runtime import Runtime
from bench.harness import (
    Processes,
    bench_settings,
    dispatch_until_sent,
    machine_note,
    pg_schema,
    seed_due_sends,
)
from tests.fakes.provider import FakeProviderMailbox

MESSAGE = OutgoingMessage(
    send_id="0", from_addr="rep@bench.test", from_name="Bench Rep", to_addr="p@corp.test",
    subject="Hello P1", html="<p>Hi P1,</p><p>" + "A line of text. " * 40 + "</p>",
    text="Hi P1, " + "A line of text. " * 40,
)


def bare_loop(fake_url: str, n: int) -> float:
    box = FakeProviderMailbox(fake_url, "rep@bench.test")
    start = time.perf_counter()
    for i in range(n):
        draft = box.create_draft(replace(MESSAGE, send_id=f"bare-{i}-{start}"))
        sent = box.send_draft(draft)
        box.get_headers(sent.message_id, ["Message-ID"])
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=400)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    with pg_schema() as url:
        procs = Processes(bench_settings(url))
        try:
            fake = procs.start_fake()
            settings = bench_settings(url, fake)
            procs.settings = settings
            rt = Runtime.from_settings(settings)
            floor_before = bare_loop(fake, args.sends)
            rates: dict[int, float] = {}
            for count in counts:
                run = settings.with_(queue_name=f"{settings.queue_name}-{count}")
                rt = Runtime.from_settings(run)
                seed_due_sends(rt, args.sends)
                workers = procs.start_workers(count, run)
                already = 0 if not rates else sum(args.sends for _ in rates)
                seconds = dispatch_until_sent(rt, already + args.sends, interval=0.2)
                rates[count] = args.sends / seconds
                procs.stop(workers)
            floor_after = bare_loop(fake, args.sends)
        finally:
            procs.stop()
    floor = (floor_before + floor_after) / 2
    print(f"floor: bare loop of the same HTTP requests: {floor:7.1f} sends/s "
          f"(before {floor_before:.1f}, after {floor_after:.1f})")
    for count, rate in rates.items():
        print(f"pipeline, {count} worker{'s' if count > 1 else ' '}:              {rate:7.1f} "
              f"sends/s = {100 * rate / floor:5.1f}% of the floor")
    print(machine_note())
    if 2 in rates:
        verdict = "met" if rates[2] >= 0.5 * floor else "NOT met"
        print(f"target (2 workers >= 50% of the floor): {verdict}")


if __name__ == "__main__":
    main()
