"""Launch benchmark: 10,000 people into a 6-step campaign through the API's code path.

Prints people/s beside a floor measured in the same run on the same database: a bare bulk
insert of the same number of rows into `people` (the same primitive, nothing else), and the
ratio. A launch writes three rows per person (person, enrollment, first send or task), parses
and checks the JSON, and times each person's first step.

    python bench/launch.py [--people 10000] [--repeat 3] [--backends sqlite,postgresql]
                           [--csv-people 100000]

Then (PostgreSQL) one launch of 100,000 people from one CSV file, read and checked like the
API's, beside a bare COPY of the same rows.

PostgreSQL: BENCH_POSTGRES_URL (default the local `test` database), in a schema of its own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, text

from addin_server import create_app
from addin_server.accounts import create_rep, issue_token
from addin_server.config import Settings
from addin_server.crypto import new_key
from addin_server.db import bulk_insert, make_engine
from addin_server.enrollments.launch import launch, parse_options
from addin_server.enrollments.people import decode_csv, read_csv
from addin_server.migrate import upgrade
from addin_server.models import Campaign, Enrollment, Person, Rep, Send
from addin_server.runtime import Runtime
from addin_server.validation import Errors

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def campaign() -> dict[str, Any]:
    def email(day: int, option: str, **kw: Any) -> dict[str, Any]:
        return {"day": day, "type": "email", "send_option": option, "subject": "Hi {{first_name}}",
                "body_html": "<p>Hello {{first_name | default: \"there\"}}</p>", **kw}

    return {"name": "Bench", "timezone": "Europe/Paris", "steps": [
        email(1, "fixed_time", send_time="09:30"),
        email(3, "same_time_as_previous", reply_to_previous=True),
        {"day": 4, "type": "call"},
        email(5, "manual_task"),
        {"day": 7, "type": "linkedin"},
        email(8, "fixed_time", send_time="14:00"),
    ]}


def people(n: int, tag: str) -> list[dict[str, Any]]:
    zones = [None, "America/New_York", "Europe/Berlin"]
    return [{"email": f"p{i}.{tag}@corp{i % 97}.test", "first_name": f"P{i}",
             "company": f"Corp {i % 97}", "timezone": zones[i % 3],
             "fields": {"plan": "gold"}} for i in range(n)]


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        return
    import os

    base = os.environ.get("BENCH_POSTGRES_URL", PG_URL)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def floor_people(runtime: Runtime, n: int, org_id: int, tag: str) -> float:
    """Seconds for one bare bulk insert of n people rows (committed), with the same primitive
    the launch uses (db.bulk_insert: COPY on PostgreSQL, executemany on SQLite)."""
    with runtime.sessions.begin() as session:
        base = session.scalar(text("SELECT coalesce(max(id), 0) FROM people")) or 0
    rows = [{**person_row(i, org_id, tag), "id": base + 1 + i} for i in range(n)]
    start = time.perf_counter()
    with runtime.sessions.begin() as session:
        bulk_insert(session, table(Person), rows)
    return time.perf_counter() - start


def floor_rows(runtime: Runtime, n: int, org_id: int, rep_id: int, campaign_id: int,
               tag: str) -> float:
    """Seconds for a bare bulk insert of the rows a launch of n people writes (n people, n
    enrollments, n sends), ids given, no checks, no timing rules."""
    with runtime.sessions.begin() as session:
        base = [session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")) or 0
                for t in ("people", "enrollments", "sends")]
    people = [{**person_row(i, org_id, tag), "id": base[0] + 1 + i} for i in range(n)]
    enrollments = [{"id": base[1] + 1 + i, "org_id": org_id, "campaign_id": campaign_id,
                    "person_id": base[0] + 1 + i, "rep_id": rep_id, "status": "finished",
                    "start_date": NOW.date(), "first_send_at": None, "current_position": 0,
                    "paused_until": None, "created_at": NOW, "updated_at": NOW}
                   for i in range(n)]
    sends = [{"id": base[2] + 1 + i, "org_id": org_id, "enrollment_id": base[1] + 1 + i,
              "rep_id": rep_id,
              "position": 0, "mailbox_id": None, "task_id": None, "state": "scheduled",
              "planned_at": NOW, "due_at": NOW, "created_at": NOW, "updated_at": NOW}
             for i in range(n)]
    start = time.perf_counter()
    with runtime.sessions.begin() as session:
        bulk_insert(session, table(Person), people)
        bulk_insert(session, table(Enrollment), enrollments)
        bulk_insert(session, table(Send), sends)
    return time.perf_counter() - start


def person_row(i: int, org_id: int, tag: str) -> dict[str, Any]:
    return {"org_id": org_id, "email": f"floor{i}.{tag}@x.test", "first_name": f"F{i}",
            "last_name": "", "company": "", "title": "", "timezone": None, "fields": {},
            "unsubscribed_at": None, "bounced_at": None, "created_at": NOW}


def table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def run(backend: str, n: int, repeat: int) -> None:
    with database(backend) as url:
        settings = Settings(database_url=url, instance_path=tempfile.gettempdir(),
                            secret_key="bench-secret", encryption_keys=(new_key(),))
        runtime = Runtime.from_settings(settings, clock=lambda: NOW)
        upgrade(runtime.engine)
        with runtime.sessions.begin() as s:
            rep = create_rep(s, email="bench@acme.test", org_name="Acme", now=NOW,
                             local_mailbox=True)
            token, org_id, rep_id = issue_token(s, rep, NOW), rep.org_id, rep.id
        client = create_app(runtime=runtime).test_client()
        headers = {"Authorization": f"Bearer {token}"}
        launches, floors, whole = [], [], []
        cid = 0
        for r in range(repeat):
            cid = client.post("/api/v1/campaigns", json=campaign(), headers=headers).json["id"]
            body = {"people": people(n, f"r{r}"), "start_date": "2026-11-25"}
            start = time.perf_counter()
            response = client.post(f"/api/v1/campaigns/{cid}/launch", json=body,
                                   headers=headers)
            launches.append(time.perf_counter() - start)
            assert response.status_code == 201, response.get_data(as_text=True)[:500]
            assert len(response.json["enrollments"]) == n
        # Floors after the launches: they give ids by hand, which PostgreSQL's sequences
        # do not see.
        for r in range(repeat):
            floors.append(floor_people(runtime, n, org_id, f"f{r}"))
            whole.append(floor_rows(runtime, n, org_id, rep_id, cid, f"w{r}"))
        runtime.engine.dispose()
    best, bare, rows = min(launches), min(floors), min(whole)
    median_ratio = statistics.median(launches) / statistics.median(whole)
    print(f"{backend:10s} launch of {n:,} people (best of {repeat}): {n / best:7,.0f} people/s "
          f"(median {n / statistics.median(launches):,.0f})\n"
          f"{'':10s} floor A, bare bulk insert of {n:,} people rows: {n / bare:9,.0f} rows/s; "
          f"launch is {best / bare:.1f}x\n"
          f"{'':10s} floor B, bare bulk insert of the launch's {3 * n:,} rows: "
          f"{n / rows:9,.0f} people/s; launch is {best / rows:.1f}x "
          f"(median launch / median floor: {median_ratio:.1f}x; the checks included)")


def csv_text(n: int, tag: str) -> str:
    zones = ["", "America/New_York", "Europe/Berlin"]
    return "Email Address,First Name,Company,Time Zone,Plan\n" + "".join(
        f"p{i}.{tag}@corp{i % 97}.test,P{i},Corp {i % 97},{zones[i % 3]},gold\n"
        for i in range(n))


def run_csv(backend: str, n: int) -> None:
    """One launch of n people from one CSV (decode, read, check, write, in one transaction),
    beside a bare COPY of the same number of rows (people, enrollments, sends)."""
    with database(backend) as url:
        settings = Settings(database_url=url, instance_path=tempfile.gettempdir(),
                            secret_key="bench-secret", encryption_keys=(new_key(),))
        runtime = Runtime.from_settings(settings, clock=lambda: NOW)
        upgrade(runtime.engine)
        with runtime.sessions.begin() as s:
            rep = create_rep(s, email="bench@acme.test", org_name="Acme", now=NOW,
                             local_mailbox=True)
            org_id, rep_id = rep.org_id, rep.id
        client = create_app(runtime=runtime).test_client()
        with runtime.sessions.begin() as s:
            token = issue_token(s, s.get(Rep, rep_id), NOW)
        cid = client.post("/api/v1/campaigns", json=campaign(),
                          headers={"Authorization": f"Bearer {token}"}).json["id"]
        data = csv_text(n, "big").encode()
        start = time.perf_counter()
        with runtime.sessions.begin() as session:
            errors = Errors()
            parsed = read_csv(decode_csv(data), errors, limit=n)
            errors.raise_if_any()
            result = launch(session, session.get(Rep, rep_id), session.get(Campaign, cid),
                            parsed.people, parse_options({"start_date": "2026-11-25"}, errors),
                            NOW)
        took = time.perf_counter() - start
        assert len(result.enrolled) == n
        bare = floor_rows(runtime, n, org_id, rep_id, cid, "big")
        runtime.engine.dispose()
    print(f"{backend:10s} launch of {n:,} people from one CSV: {took:5.1f} s "
          f"({n / took:,.0f} people/s); floor, bare COPY of the same {3 * n:,} rows: "
          f"{bare:4.1f} s; launch is {took / bare:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--csv-people", type=int, default=100_000,
                        help="one launch from a CSV of this many people (PostgreSQL); 0: none")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend, args.people, args.repeat)
    if args.csv_people and "postgresql" in args.backends:
        run_csv("postgresql", args.csv_people)


if __name__ == "__main__":
    main()
