"""What the benchmarks share: a PostgreSQL schema of their own, a campaign with due sends, the
fake provider and `addin-server worker` processes, and a dispatcher driven in-process.

Environment: BENCH_POSTGRES_URL (default the test server's `test` database), BENCH_REDIS_URL
(default redis://127.0.0.1:6379/1). Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from addin_server.accounts import create_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.config import Settings
from addin_server.crypto import new_key
from addin_server.db import make_engine
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import parse_people
from addin_server.enums import SendState
from addin_server.migrate import upgrade
from addin_server.models import Send
from addin_server.runtime import Runtime
from addin_server.validation import Errors
from addin_server.workers import dispatch

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")


@contextmanager
def pg_schema() -> Iterator[str]:
    """A migrated schema of our own, dropped afterwards; yields its URL."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_settings(database_url: str, fake_url: str = "") -> Settings:
    return Settings(
        database_url=database_url, redis_url=REDIS_URL,
        queue_name=f"bench-{uuid.uuid4().hex[:8]}", secret_key="bench-secret",
        encryption_keys=(new_key(),),
        public_base_url="https://campaigns.example.test",
        mailbox_factory="tests.fakes.provider:open_fake" if fake_url else "",
        extra={"fake_provider_url": fake_url} if fake_url else {},
    )


def seed_due_sends(rt: Runtime, n: int, *, tag: str = "") -> None:
    """A rep with a mailbox, a one-email campaign, n people launched on it, due now."""
    now = rt.now()
    tag = tag or uuid.uuid4().hex[:6]
    with rt.sessions.begin() as s:
        rep = create_rep(s, email=f"rep-{tag}@bench.test", org_name=f"Bench {tag}", now=now,
                         name="Bench Rep", local_mailbox=True)
        spec = parse_campaign({
            "name": "bench", "timezone": "UTC", "settings": {"skip_weekends": False},
            "steps": [{"day": 1, "type": "email", "send_option": "choose_at_launch",
                       "subject": "Hello {{first_name}}",
                       "body_html": "<p>Hi {{first_name}},</p><p>" + "A line of text. " * 40
                                    + "</p><p>{{sender_name}}</p>"}],
        }, default_timezone="UTC")
        campaign = create_campaign(s, rep, spec, now)
        errors = Errors()
        people = parse_people([{"email": f"p{i}-{tag}@corp.test", "first_name": f"P{i}"}
                               for i in range(n)], errors, limit=n)
        launch(s, rep, campaign, people, LaunchOptions(first_send_at=now), now)
    # Fresh tables have no planner statistics until autovacuum runs: without them the first
    # run of a fresh schema measured the planner's guesses, not the pipeline.
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def sent_count(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Send)
                            .where(Send.state == SendState.SENT)) or 0)


@dataclass
class Processes:
    """The fake provider and worker processes of one run."""

    settings: Settings
    fake_url: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_fake(self) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.provider", "--port", "0"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None
        self.fake_url = proc.stdout.readline().decode().strip()
        self.procs.append(proc)
        return self.fake_url

    def start_workers(self, count: int, settings: Settings) -> list[subprocess.Popen[bytes]]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url,
               "REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name,
               "SECRET_KEY": settings.secret_key, "PUBLIC_BASE_URL": settings.public_base_url,
               "ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
               "MAILBOX_FACTORY": "tests.fakes.provider:open_fake",
               "FAKE_PROVIDER_URL": self.fake_url}
        started = [subprocess.Popen([sys.executable, "-m", "addin_server", "worker"],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(count)]
        self.procs.extend(started)
        # The clock starts once every worker has imported everything and listens.
        from rq import Queue, Worker

        queue = Queue(settings.queue_name, connection=Runtime.from_settings(settings).redis())
        deadline = time.monotonic() + 60
        while Worker.count(queue=queue) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return started

    def stop(self, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
        targets = self.procs if procs is None else procs
        for p in targets:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in targets:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def dispatch_until_sent(rt: Runtime, n: int, interval: float, timeout: float = 600) -> float:
    """Run dispatcher passes every `interval` s until n sends are sent; seconds taken."""
    start = time.perf_counter()
    dispatcher = dispatch.Dispatcher(rt)  # as `addin-server dispatch --interval` runs it
    while sent_count(rt) < n:
        dispatcher.run_pass(datetime.now(UTC))
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out: {sent_count(rt)}/{n} sent")
        time.sleep(interval)
    return time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine_note() -> str:
    """The machine's load while measuring: figures from a shared, busy machine are not the
    figures of an idle one (every round trip then waits for a time slice)."""
    one, five, _ = os.getloadavg()
    return f"(machine: {os.cpu_count()} cores, load average {one:.1f} / {five:.1f} over 1 / 5 min)"
