"""List pages and list APIs at scale: each one's p95 beside a floor, a bare indexed SELECT of the
same page of rows, measured in the same run on the same PostgreSQL schema.

One organisation, one rep: --enrollments people each in a 10-email campaign, --sends-per sends
each (80% sent, 15% scheduled, 3% held, 2% failed), 1% with an open task. Every request goes
through the Flask app (test client: routing, session, SQL, templates, JSON), not over a socket.

    python -m bench.pages                       # 100,000 enrollments, 1,000,000 sends
    python -m bench.pages --enrollments 20000   # a smaller run (say so when quoting it)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, text

from addin_server import create_app
from addin_server.accounts import create_rep, issue_token
from addin_server.db import bulk_insert
from addin_server.models import Enrollment, Person, Send, Task
from addin_server.runtime import Runtime
from bench.harness import bench_settings, machine_note, percentile, pg_schema

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
STATES = ["sent"] * 80 + ["scheduled"] * 15 + ["held"] * 3 + ["failed"] * 2


def table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def seed(rt: Runtime, client: Any, headers: dict[str, str], org_id: int, rep_id: int,
         n: int, per: int) -> int:
    steps = [{"day": 1 + 2 * i, "type": "email",
              "send_option": "fixed_time" if i == 0 else "same_time_as_previous",
              **({"send_time": "09:00"} if i == 0 else {}),
              "subject": f"Step {i}", "body_html": "<p>Hi {{first_name}}</p>"}
             for i in range(max(per, 1))]
    cid = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "bench", "timezone": "UTC", "steps": steps}).json["id"]
    for start in range(0, n, 20_000):
        chunk = range(start, min(n, start + 20_000))
        people: list[dict[str, Any]] = [{"id": i + 1, "org_id": org_id, "email": f"p{i}@corp.test",
                   "first_name": f"P{i}", "last_name": "L", "company": f"Co{i % 500}",
                   "title": "", "timezone": None, "fields": {}, "unsubscribed_at": None,
                   "bounced_at": None, "created_at": NOW} for i in chunk]
        enrollments = [{"id": i + 1, "org_id": org_id, "campaign_id": cid, "person_id": i + 1,
                        "rep_id": rep_id, "status": "active", "start_date": NOW.date(),
                        "first_send_at": None, "current_position": per - 1, "outcome": "",
                        "stop_reason": "", "paused_until": None, "created_at": NOW,
                        "updated_at": NOW - timedelta(seconds=i)} for i in chunk]
        sends: list[dict[str, Any]] = []
        for i in chunk:
            for p in range(per):
                state = STATES[(i * per + p) % len(STATES)]
                due = NOW + timedelta(minutes=(i * per + p) % 20_000 - 15_000)
                sends.append({"id": i * per + p + 1, "org_id": org_id,
                              "enrollment_id": i + 1, "position": p, "mailbox_id": None,
                              "task_id": None, "state": state, "planned_at": due,
                              "due_at": due, "attempts": 0, "reason": "",
                              "to_addr": f"p{i}@corp.test", "subject": f"Step {p}",
                              "body_html": "", "sent_at": due if state == "sent" else None,
                              "created_at": NOW, "updated_at": NOW})
        tasks = [{"id": i + 1, "org_id": org_id, "rep_id": rep_id, "enrollment_id": i + 1,
                  "position": 0, "type": "call", "status": "open",
                  "due_date": (NOW + timedelta(days=i % 10)).date(), "title": "Call",
                  "instructions": "", "created_at": NOW, "updated_at": NOW}
                 for i in chunk if i % 100 == 0]
        with rt.sessions.begin() as s:
            bulk_insert(s, table(Person), people)
            bulk_insert(s, table(Enrollment), enrollments)
            bulk_insert(s, table(Send), sends)
            if tasks:
                bulk_insert(s, table(Task), tasks)
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for t in ("people", "enrollments", "sends", "tasks"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                              f"(SELECT max(id) FROM {t}))"))
        conn.execute(text("ANALYZE"))
    return int(cid)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """p95 in milliseconds of `repeat` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 95)


def run(n: int, per: int, repeat: int) -> None:
    with pg_schema() as url:
        rt = Runtime.from_settings(bench_settings(url).with_(dev_mode=True), clock=lambda: NOW)
        with rt.sessions.begin() as s:
            rep = create_rep(s, email="bench@acme.test", org_name="Acme", now=NOW,
                             local_mailbox=True, timezone="UTC")
            token, org_id, rep_id = issue_token(s, rep, NOW), rep.org_id, rep.id
        app = create_app(runtime=rt)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        start = time.perf_counter()
        cid = seed(rt, client, headers, org_id, rep_id, n, per)
        print(f"seeded {n:,} enrollments, {n * per:,} sends in {time.perf_counter() - start:.0f}"
              f" s; {machine_note()}")
        with client.session_transaction() as session:
            session["rep_id"] = rep_id

        def get(path: str, **kw: Any) -> Callable[[], Any]:
            def call() -> None:
                response = client.get(path, **kw)
                assert response.status_code == 200, (path, response.status_code)
            return call

        def floor(sql: str, **params: Any) -> Callable[[], Any]:
            def call() -> None:
                with rt.engine.connect() as conn:
                    conn.execute(text(sql), {"org": org_id, "rep": rep_id, **params}).all()
            return call

        sends_page = ("SELECT * FROM sends WHERE org_id = :org AND state = :state "
                      "ORDER BY due_at {order}, id LIMIT 100 OFFSET :off")
        people_page = ("SELECT * FROM enrollments WHERE rep_id = :rep AND status IN "
                       "('active', 'paused') ORDER BY updated_at DESC, id DESC LIMIT 100 "
                       "OFFSET :off")
        cases = [
            ("Command Center tasks", get("/command"),
             floor("SELECT * FROM tasks WHERE rep_id = :rep AND status = 'open' "
                   "ORDER BY due_date, id LIMIT 400")),
        ]
        for state, order in (("scheduled", "ASC"), ("waiting", "ASC"), ("sent", "DESC"),
                             ("failed", "DESC")):
            sql_state = "held" if state == "waiting" else state
            cases.append((f"Emails · {state} p1", get(f"/command?view=emails&state={state}"),
                          floor(sends_page.format(order=order), state=sql_state, off=0)))
        cases += [
            ("Emails · sent p50", get("/command?view=emails&state=sent&page=50"),
             floor(sends_page.format(order="DESC"), state="sent", off=4900)),
            ("People p1", get("/command?view=people"), floor(people_page, off=0)),
            ("People p100", get("/command?view=people&page=100"), floor(people_page, off=9900)),
            ("Campaigns list", get("/campaigns"),
             floor("SELECT * FROM campaigns WHERE org_id = :org LIMIT 100")),
            ("API GET /sends?state=scheduled", get("/api/v1/sends?state=scheduled",
                                                   headers=headers),
             floor(sends_page.format(order="ASC"), state="scheduled", off=0)),
            ("API GET /tasks", get("/api/v1/tasks", headers=headers),
             floor("SELECT * FROM tasks WHERE rep_id = :rep AND status = 'open' "
                   "ORDER BY due_date, id LIMIT 200")),
            ("API GET /campaigns/{id}/enrollments",
             get(f"/api/v1/campaigns/{cid}/enrollments", headers=headers),
             floor("SELECT * FROM enrollments WHERE campaign_id = :cid ORDER BY id LIMIT 100",
                   cid=cid)),
        ]
        print(f"{'page':40s} {'p95 ms':>8s} {'floor p95 ms':>13s}")
        for name, call, bare in cases:
            print(f"{name:40s} {timed(call, repeat):8.1f} {timed(bare, repeat):13.1f}",
                  flush=True)
        rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--sends-per", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    run(args.enrollments, args.sends_per, args.repeat)


if __name__ == "__main__":
    main()
