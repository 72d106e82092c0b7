"""List pages and list APIs at scale: each one's p95 beside a floor, a bare indexed SELECT of the
same page of rows, measured in the same run on the same PostgreSQL schema.

One organisation: --enrollments people each in a 10-email campaign of one rep, --sends-per
sends each (80% sent, 15% scheduled, 3% held, 2% failed), one in twenty people paused, 1% with
an open call task, three Live Feed events per person, 10,000 suppressed addresses and 200
templates. Every request goes through the Flask app (test client: routing, session, SQL,
templates, JSON), not over a socket.

The data is written with set-based SQL (INSERT ... SELECT generate_series) into a schema kept
between runs (`bench_pages_<enrollments>x<sends-per>`): a later run with the same size reuses
it, creating or dropping indexes to match the models (a changed table is written again), so
that a run measures pages, not seeding. `--fresh` writes it again.

    python -m bench.pages                       # 100,000 enrollments, 1,000,000 sends
    python -m bench.pages --enrollments 20000   # a smaller run (say so when quoting it)
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Index, inspect, text
from sqlalchemy.schema import CreateIndex

from addin_server import create_app
from addin_server.accounts import create_rep, issue_token
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.db import make_engine
from addin_server.enums import SendState
from addin_server.migrate import upgrade
from addin_server.models import Base, Mailbox, Rep
from addin_server.runtime import Runtime
from bench.harness import PG_URL, bench_settings, machine_note, percentile

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

# Set-based seed, one statement per table. Send k = (person - 1) * per + position: states by
# k % 100 (80 sent, 15 scheduled, 3 held, 2 failed); what went lies in the past, what is to go
# in the future, spread over two weeks.
SEED = [
    """INSERT INTO people (id, org_id, email, first_name, last_name, company, title, fields,
           owner_rep_id, created_at)
       SELECT g, :org, 'p' || g || '@corp.test', 'P' || g, 'L', 'Co' || (g % 500), '', '{}',
           :rep, :now
       FROM generate_series(1, :n) g""",
    """INSERT INTO enrollments (id, org_id, campaign_id, person_id, rep_id, status, start_date,
           current_position, outcome, stop_reason, created_at, updated_at)
       SELECT g, :org, :campaign, g, :rep,
           CASE WHEN g % 20 = 0 THEN 'paused' ELSE 'active' END,
           CAST(:now AS date), :per - 1, '', '', :now, :now - g * interval '1 second'
       FROM generate_series(1, :n) g""",
    """INSERT INTO sends (id, org_id, enrollment_id, rep_id, position, mailbox_id, state,
           planned_at, due_at, attempts, reason, to_addr, subject, body_html, sent_at,
           created_at, updated_at)
       SELECT k + 1, :org, g, :rep, p, :mailbox, st, due, due,
           CASE WHEN st = 'sent' THEN 1 ELSE 0 END,
           CASE st WHEN 'held' THEN 'missing merge fields: color'
                   WHEN 'failed' THEN 'rejected by the provider' ELSE '' END,
           'p' || g || '@corp.test', 'Step ' || p, '',
           CASE WHEN st = 'sent' THEN due END, :now, :now
       FROM (SELECT g, p, k, st,
                 CAST(:now AS timestamptz) + CASE WHEN st = 'scheduled'
                     THEN (k % 20000) * interval '1 minute'
                     ELSE -(k % 20000) * interval '1 minute' END AS due
             FROM (SELECT g, p, (g - 1) * :per + p AS k,
                       CASE WHEN ((g - 1) * :per + p) % 100 < 80 THEN 'sent'
                            WHEN ((g - 1) * :per + p) % 100 < 95 THEN 'scheduled'
                            WHEN ((g - 1) * :per + p) % 100 < 98 THEN 'held'
                            ELSE 'failed' END AS st
                   FROM generate_series(1, :n) g, generate_series(0, :per - 1) p) x) y""",
    """INSERT INTO tasks (org_id, rep_id, enrollment_id, position, type, status, due_date,
           title, instructions, note, created_at, updated_at)
       SELECT :org, :rep, g, :per, 'call', 'open', CAST(:now AS date) + (g % 10), 'Call', '',
           '', :now, :now
       FROM generate_series(1, :n) g WHERE g % 100 = 0""",
    """INSERT INTO events (org_id, rep_id, type, at, campaign_id, enrollment_id, person_id, data)
       SELECT :org, :rep,
           (ARRAY['email_scheduled', 'email_sent', 'task_created', 'replied',
                  'email_sent', 'enrollment_paused'])[1 + (g * 3 + j) % 6],
           :now - (g * 3 + j) * interval '1 second', :campaign, g, g, '{}'
       FROM generate_series(1, :n) g, generate_series(0, 2) j""",
    """INSERT INTO suppressions (org_id, email, reason, note, created_at)
       SELECT :org, 's' || g || '@gone.test', 'unsubscribed', '', :now
       FROM generate_series(1, 10000) g""",
    """INSERT INTO templates (org_id, rep_id, name, subject, body_html, created_at, updated_at)
       SELECT :org, :rep, 'Template ' || g, 'Hello {{first_name}}', '<p>Hi</p>', :now, :now
       FROM generate_series(1, 200) g""",
]


def fingerprint() -> str:
    """The tables and columns of the models: data written for other columns is written again."""
    parts = sorted(f"{t.name}.{c.name}:{c.type}" for t in Base.metadata.sorted_tables
                   for c in t.columns)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _url(schema: str) -> str:
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"


def sync_indexes(engine: Engine) -> list[str]:
    """Create the models' indexes missing from a kept schema and drop those the models no
    longer have (constraints' own indexes untouched); what changed, for the log."""
    changed = []
    insp = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            present = {i["name"] for i in insp.get_indexes(table.name)}
            wanted: dict[str, Index] = {str(i.name): i for i in table.indexes}
            for name, index in wanted.items():
                if name not in present:
                    conn.execute(CreateIndex(index))
                    changed.append(f"+{name}")
            for name in present - set(wanted):
                if name.startswith("ix_"):
                    conn.execute(text(f'DROP INDEX "{name}"'))
                    changed.append(f"-{name}")
        if changed:
            conn.execute(text("ANALYZE"))
    return changed


def prepare(n: int, per: int, fresh: bool) -> tuple[str, dict[str, int]]:
    """The kept schema for this size (written if missing, stale or --fresh); its URL and ids."""
    schema = f"bench_pages_{n}x{per}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                             {"s": schema})
        meta = None
        if exists:
            meta = conn.execute(text(
                f'SELECT fingerprint, org, rep, admin, campaign, mailbox '
                f'FROM "{schema}".bench_meta')).first() if conn.scalar(text(
                    "SELECT to_regclass(:t)"), {"t": f"{schema}.bench_meta"}) else None
        if meta is not None and meta[0] == fingerprint() and not fresh:
            admin.dispose()
            url = _url(schema)
            engine = make_engine(url)
            changed = sync_indexes(engine)
            engine.dispose()
            print(f"reusing schema {schema}" + (f" (indexes: {' '.join(changed)})"
                                                if changed else ""))
            return url, dict(zip(("org", "rep", "admin", "campaign", "mailbox"), meta[1:],
                                 strict=True))
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = _url(schema)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    ids = seed(engine, url, n, per)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_meta (fingerprint text, org int, rep int, "
                          "admin int, campaign int, mailbox int)"))
        conn.execute(text("INSERT INTO bench_meta VALUES (:f, :org, :rep, :admin, :campaign, "
                          ":mailbox)"), {"f": fingerprint(), **ids})
    print(f"seeded {n:,} enrollments, {n * per:,} sends into {schema} in "
          f"{time.perf_counter() - started:.0f} s (not part of any figure)")
    engine.dispose()
    return url, ids


def seed(engine: Engine, url: str, n: int, per: int) -> dict[str, int]:
    rt = Runtime.from_settings(bench_settings(url), clock=lambda: NOW)
    steps = [{"day": 1 + 2 * i, "type": "email",
              "send_option": "fixed_time" if i == 0 else "same_time_as_previous",
              **({"send_time": "09:00"} if i == 0 else {}),
              "subject": f"Step {i}", "body_html": "<p>Hi {{first_name}}</p>"}
             for i in range(per)] + [{"day": 2 * per + 1, "type": "call"}]
    with rt.sessions.begin() as s:
        rep = create_rep(s, email="bench@acme.test", org_name="Acme", now=NOW,
                         local_mailbox=True, timezone="UTC")
        boss = create_rep(s, email="boss@acme.test", org_name="Acme", now=NOW, admin=True,
                          timezone="UTC")
        campaign = create_campaign(s, rep, parse_campaign(
            {"name": "bench", "timezone": "UTC", "steps": steps}, default_timezone="UTC"), NOW)
        s.flush()
        mailbox = s.query(Mailbox).filter(Mailbox.rep_id == rep.id).one()
        ids = {"org": rep.org_id, "rep": rep.id, "admin": boss.id, "campaign": campaign.id,
               "mailbox": mailbox.id}
    rt.engine.dispose()
    params = {**ids, "n": n, "per": per, "now": NOW}
    for sql in SEED:
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(sql), params)
        print(f"  {sql.split()[2]}: {time.perf_counter() - started:.0f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for t in ("people", "enrollments", "sends", "tasks", "events", "suppressions",
                  "templates"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                              f"(SELECT max(id) FROM {t}))"))
        # What autovacuum leaves on a live database: statistics and the visibility map
        # (without it no count is index-only).
        conn.execute(text("VACUUM ANALYZE"))
    return ids


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """p95 in milliseconds of `repeat` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 95)


Case = tuple[str, Callable[[], Any], Callable[[], Any]]


def cases(app: Any, rt: Runtime, ids: dict[str, int], n: int, per: int) -> list[Case]:
    """Each list beside its floor: the same page of rows by a bare SELECT on an index."""
    engine = rt.engine
    tokens = {}
    with rt.sessions.begin() as s:
        for who in ("rep", "admin"):
            rep = s.get(Rep, ids[who])
            assert rep is not None
            tokens[who] = issue_token(s, rep, NOW)
        version = s.get(Rep, ids["rep"]).session_version  # type: ignore[union-attr]
    web = app.test_client()
    with web.session_transaction() as session:
        session["rep_id"] = ids["rep"]
        session["session_version"] = version
    api = app.test_client()
    cid = ids["campaign"]

    def get(path: str, who: str = "") -> Callable[[], Any]:
        client, headers = (api, {"Authorization": f"Bearer {tokens[who]}"}) if who else (
            web, {})

        def call() -> None:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
        return call

    def floor(sql: str, **params: Any) -> Callable[[], Any]:
        def call() -> None:
            with engine.connect() as conn:
                conn.execute(text(sql), {**ids, **params}).all()
        return call

    sends_page = ("SELECT * FROM sends WHERE rep_id = :rep AND state = :state "
                  "ORDER BY due_at {order}, id {order} LIMIT :limit OFFSET :off")
    people_page = ("SELECT * FROM enrollments WHERE rep_id = :rep AND status = 'active' "
                   "ORDER BY updated_at DESC, id DESC LIMIT 100 OFFSET :off")
    tasks_page = ("SELECT * FROM tasks WHERE rep_id = :rep AND status = 'open' "
                  "ORDER BY due_date, id LIMIT :limit")
    deep_people = min(9900, max(n - 100, 0))
    deep_sent = min(4900, max(n * per * 8 // 10 - 100, 0))
    out: list[Case] = [
        ("web /command (tasks)", get("/command"), floor(tasks_page, limit=400)),
    ]
    for tab, state, order in (("scheduled", "scheduled", "ASC"), ("waiting", "held", "ASC"),
                              ("sent", "sent", "DESC"), ("failed", "failed", "DESC")):
        out.append((f"web /command emails {tab} p1", get(f"/command?view=emails&state={tab}"),
                    floor(sends_page.format(order=order), state=state, limit=100, off=0)))
    out += [
        (f"web /command emails sent p{deep_sent // 100 + 1}",
         get(f"/command?view=emails&state=sent&page={deep_sent // 100 + 1}"),
         floor(sends_page.format(order="DESC"), state="sent", limit=100, off=deep_sent)),
        ("web /command people p1", get("/command?view=people"), floor(people_page, off=0)),
        (f"web /command people p{deep_people // 100 + 1}",
         get(f"/command?view=people&page={deep_people // 100 + 1}"),
         floor(people_page, off=deep_people)),
        ("web /campaigns", get("/campaigns"),
         floor("SELECT * FROM campaigns WHERE org_id = :org AND rep_id = :rep ORDER BY id "
               "LIMIT 100")),
        ("web /campaigns/{id}", get(f"/campaigns/{cid}"),
         floor("SELECT * FROM steps WHERE campaign_id = :campaign ORDER BY position")),
        ("web /feed", get("/feed"),
         floor("SELECT * FROM events WHERE org_id = :org AND rep_id = :rep ORDER BY id DESC "
               "LIMIT 200")),
        ("API /campaigns", get("/api/v1/campaigns", "rep"),
         floor("SELECT * FROM campaigns WHERE org_id = :org AND rep_id = :rep ORDER BY id "
               "LIMIT 100")),
        ("API /campaigns/{id}/enrollments p1",
         get(f"/api/v1/campaigns/{cid}/enrollments", "rep"),
         floor("SELECT * FROM enrollments WHERE campaign_id = :campaign ORDER BY id "
               "LIMIT 100")),
        ("API /campaigns/{id}/enrollments deep",
         get(f"/api/v1/campaigns/{cid}/enrollments?offset={max(n - 100, 0)}", "rep"),
         floor("SELECT * FROM enrollments WHERE campaign_id = :campaign ORDER BY id "
               "LIMIT 100 OFFSET :off", off=max(n - 100, 0))),
        ("API /sends?state=scheduled", get("/api/v1/sends?state=scheduled", "rep"),
         floor(sends_page.format(order="ASC"), state="scheduled", limit=100, off=0)),
        ("API /sends?state=sent deep", get(f"/api/v1/sends?state=sent&offset={deep_sent}",
                                           "rep"),
         floor(sends_page.format(order="ASC"), state="sent", limit=100, off=deep_sent)),
        # (no single index holds every state in due order: the floor is the bare form of the
        # merge, each state's first 100 on the index, then the first 100 of those)
        ("API /sends (every state)", get("/api/v1/sends", "rep"),
         floor("SELECT * FROM (" + " UNION ALL ".join(
             f"(SELECT * FROM sends WHERE rep_id = :rep AND state = '{s.value}' "
             "ORDER BY due_at, id LIMIT 100)" for s in SendState)
             + ") x ORDER BY due_at, id LIMIT 100")),
        ("API /sends?state=held (admin)", get("/api/v1/sends?state=held", "admin"),
         floor("SELECT * FROM sends WHERE org_id = :org AND state = 'held' "
               "ORDER BY due_at, id LIMIT 100")),
        ("API /tasks", get("/api/v1/tasks", "rep"), floor(tasks_page, limit=200)),
        ("API /tasks (admin)", get("/api/v1/tasks", "admin"),
         floor("SELECT * FROM tasks WHERE org_id = :org AND status = 'open' "
               "ORDER BY due_date, id LIMIT 200")),
        ("API /feed", get("/api/v1/feed", "rep"),
         floor("SELECT * FROM events WHERE org_id = :org AND rep_id = :rep ORDER BY id "
               "LIMIT 100")),
        ("API /feed?after= (latest)", get(f"/api/v1/feed?after={n * 3 - 100}", "rep"),
         floor("SELECT * FROM events WHERE org_id = :org AND id > :after ORDER BY id "
               "LIMIT 100", after=n * 3 - 100)),
        ("API /suppressions", get("/api/v1/suppressions", "rep"),
         floor("SELECT * FROM suppressions WHERE org_id = :org ORDER BY email LIMIT 200")),
        ("API /templates", get("/api/v1/templates", "rep"),
         floor("SELECT * FROM templates WHERE org_id = :org ORDER BY id LIMIT 200")),
    ]
    return out


def run(n: int, per: int, repeat: int, fresh: bool, only: str) -> None:
    url, ids = prepare(n, per, fresh)
    rt = Runtime.from_settings(bench_settings(url).with_(dev_mode=True), clock=lambda: NOW)
    app = create_app(runtime=rt)
    print(f"{n:,} enrollments, {n * per:,} sends; p95 of {repeat} requests each; "
          f"{machine_note()}")
    print(f"{'list':42s} {'p95 ms':>8s} {'floor p95 ms':>13s} {'< 200 ms':>9s}")
    for name, call, bare in cases(app, rt, ids, n, per):
        if only and only not in name:
            continue
        p95, floor_p95 = timed(call, repeat), timed(bare, repeat)
        print(f"{name:42s} {p95:8.1f} {floor_p95:13.1f} {'yes' if p95 < 200 else 'NO':>9s}",
              flush=True)
    print(machine_note())
    rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--sends-per", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--fresh", action="store_true", help="write the data again")
    parser.add_argument("--only", default="", help="only the lists whose name has this")
    args = parser.parse_args()
    run(args.enrollments, args.sends_per, args.repeat, args.fresh, args.only)


if __name__ == "__main__":
    main()
