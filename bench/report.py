"""The campaign report at scale: p50/p95 of `campaign_report` for an organisation with
1,000,000 sends (250,000 people, four emails each, in one campaign: the worst case, every
row in the campaign reported on), on PostgreSQL (target p95 < 150 ms).

Floor measured in the same run: a bare `count(*)` of the campaign's enrollments on the same
index the funnel reads (ix_enrollments_report); the report does that count's work plus the
counters' sums, held sends and overdue tasks. The data is written with set-based SQL (what
the counters would hold after those events: one INSERT ... SELECT ... GROUP BY over the sends),
then VACUUM ANALYZE, as a live database's autovacuum would have it.

    python -m bench.report [--people 250000] [--runs 60]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from sqlalchemy import text

from addin_server.accounts import create_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.db import make_engine
from addin_server.models import Campaign
from addin_server.reports import campaign as report_parts
from addin_server.reports.campaign import Filters, campaign_report
from addin_server.runtime import Runtime
from bench.harness import bench_settings, machine_note, median, percentile, pg_schema

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EMAIL = {"type": "email", "send_option": "fixed_time", "send_time": "09:30",
         "subject": "Hello", "body_html": "<p>Hi {{first_name}}</p>"}
STEPS = [{**EMAIL, "day": 1}, {**EMAIL, "day": 3}, {"type": "call", "day": 4},
         {**EMAIL, "day": 6}, {"type": "linkedin", "day": 7}, {**EMAIL, "day": 9}]
EMAIL_POSITIONS = (0, 1, 3, 5)
REPS = 5

# Set-based seed, one statement per table. Person i belongs to rep i % 5, started on day
# i % 180 before NOW; statuses and outcomes cycle so that every funnel figure is non-zero.
SEED = [
    """INSERT INTO people (org_id, email, first_name, last_name, company, title, fields,
           created_at)
       SELECT :org, 'p' || i || '@bench.test', 'P' || i, '', 'Co', '', '{}', :now
       FROM generate_series(1, :n) i""",
    """INSERT INTO enrollments (org_id, campaign_id, person_id, rep_id, status, start_date,
           current_position, outcome, stop_reason, created_at, updated_at, emailed_at,
           replied_at, bounced_at, unsubscribed_at, paused_until)
       SELECT :org, :campaign, p.id, (:reps)[1 + p.id % 5],
           (ARRAY['active','finished','replied','bounced','stopped','paused','unsubscribed',
                  'active'])[1 + p.id % 8],
           (:now - (p.id % 180) * interval '1 day')::date, 1, '', '',
           :now - (p.id % 180) * interval '1 day', :now, :now - (p.id % 180) * interval '1 day',
           CASE WHEN p.id % 8 = 2 THEN :now END, CASE WHEN p.id % 8 = 3 THEN :now END,
           CASE WHEN p.id % 8 = 6 THEN :now END,
           CASE WHEN p.id % 8 = 5 THEN :now + interval '3 days' END
       FROM people p WHERE p.org_id = :org""",
    """INSERT INTO sends (org_id, enrollment_id, rep_id, position, mailbox_id, state, due_at,
           sent_at, attempts, reason, to_addr, subject, body_html, created_at, updated_at)
       SELECT :org, e.id, e.rep_id, pos, NULL,
           CASE WHEN e.id % 997 = 0 THEN 'held' ELSE 'sent' END,
           e.created_at + pos * interval '2 days', e.created_at + pos * interval '2 days',
           1, '', '', '', '', e.created_at, e.created_at
       FROM enrollments e, unnest(ARRAY[0, 1, 3, 5]) pos WHERE e.campaign_id = :campaign""",
    """INSERT INTO tasks (org_id, rep_id, enrollment_id, position, type, status, due_date,
           title, instructions, note, created_at, updated_at, call_outcome)
       SELECT :org, e.rep_id, e.id, 2, 'call',
           CASE WHEN e.created_at > :now - interval '5 days' THEN 'open'
                ELSE (ARRAY['completed','skipped','completed'])[1 + e.id % 3] END,
           (e.created_at + interval '3 days')::date, 'Call', '', '', e.created_at,
           e.created_at, CASE WHEN e.id % 4 IN (0, 3) THEN 'connected' END
       FROM enrollments e WHERE e.campaign_id = :campaign""",
    # The counters as the events above would have left them.
    """INSERT INTO report_counts (org_id, campaign_id, day, rep_id, position, metric, n)
       SELECT :org, :campaign, s.sent_at::date, e.rep_id, s.position, 'sent', count(*)
       FROM sends s JOIN enrollments e ON e.id = s.enrollment_id
       WHERE s.state = 'sent' GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO report_counts (org_id, campaign_id, day, rep_id, position, metric, n)
       SELECT :org, :campaign, e.replied_at::date, e.rep_id, 0, 'replied', count(*)
       FROM enrollments e WHERE e.replied_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO report_counts (org_id, campaign_id, day, rep_id, position, metric, n)
       SELECT :org, :campaign, d::date, e.rep_id, -1, m, count(*)
       FROM enrollments e, LATERAL (VALUES ('enrolled', e.created_at), ('emailed', e.emailed_at),
           ('people_replied', e.replied_at), ('people_bounced', e.bounced_at),
           ('people_unsubscribed', e.unsubscribed_at),
           ('ended_' || e.status, CASE WHEN e.status NOT IN ('active', 'paused')
                                       THEN e.updated_at END)) v(m, d)
       WHERE d IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO report_counts (org_id, campaign_id, day, rep_id, position, metric, n)
       SELECT :org, :campaign, t.due_date, t.rep_id, 2,
           CASE t.status WHEN 'completed' THEN 'tasks_done' ELSE 'tasks_skipped' END, count(*)
       FROM tasks t WHERE t.status IN ('completed', 'skipped') GROUP BY 1, 2, 3, 4, 5, 6""",
]


def seed(rt: Runtime, people: int) -> tuple[int, list[int]]:
    with rt.sessions.begin() as s:
        reps = [create_rep(s, email=f"rep{i}@bench.test", org_name="Bench", now=NOW,
                           timezone="Europe/Paris") for i in range(REPS)]
        s.flush()
        campaign = create_campaign(s, reps[0], parse_campaign(
            {"name": "Bench", "timezone": "Europe/Paris", "steps": STEPS},
            default_timezone="Europe/Paris"), NOW)
        s.flush()
        org, cid, rep_ids = reps[0].org_id, campaign.id, [r.id for r in reps]
    with rt.engine.begin() as conn:
        for sql in SEED:
            conn.execute(text(sql), {"org": org, "campaign": cid, "reps": rep_ids,
                                     "now": NOW, "n": people})
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return cid, rep_ids


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=250_000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    with pg_schema() as url:
        rt = Runtime.from_settings(bench_settings(url), clock=lambda: NOW)
        started = time.perf_counter()
        cid, rep_ids = seed(rt, args.people)
        engine = make_engine(url)
        with engine.connect() as conn:
            sends = conn.execute(text("SELECT count(*) FROM sends")).scalar_one()
        print(f"seeded {sends:,} sends, {args.people:,} people in "
              f"{time.perf_counter() - started:.0f} s")
        with rt.sessions() as s:
            campaign = s.get(Campaign, cid)
            assert campaign is not None
            report = campaign_report(s, campaign, NOW)
            print(f"report: sent {report['totals']['sent']:,}, replied "
                  f"{report['totals']['replied']:,}, enrolled {report['totals']['enrolled']:,}")
            cases = {
                "whole campaign": Filters(),
                "one rep": Filters(rep_id=rep_ids[2]),
                "last 30 days": Filters(start=datetime(2026, 10, 26).date(),
                                        end=NOW.date()),
            }
            floor = timed(lambda: s.execute(text(
                "SELECT count(*) FROM enrollments WHERE campaign_id = :c"), {"c": cid}
            ).scalar_one(), args.runs)
            print(f"floor: bare count(*) on ix_enrollments_report: p50 {median(floor):.1f} ms, "
                  f"p95 {percentile(floor, 95):.1f} ms")
            for name, flt in cases.items():
                times = timed(lambda flt=flt: campaign_report(s, campaign, NOW, flt), args.runs)
                print(f"campaign report ({name}): p50 {median(times):.1f} ms, "
                      f"p95 {percentile(times, 95):.1f} ms  (target p95 < 150 ms)")
            # Where the time goes (whole campaign): each part's p50.
            parts = {
                "counters (steps, chart)": lambda: report_parts._counts(s, campaign, Filters()),
                "funnel (counters, paused)": lambda: report_parts._funnel(
                    s, campaign, Filters(), NOW, {}),
                "held and overdue now": lambda: report_parts._current(
                    s, campaign, Filters(), NOW),
                "a round trip (SELECT 1)": lambda: s.execute(text("SELECT 1")).all(),
            }
            print("  parts, p50: " + ", ".join(
                f"{name} {median(timed(fn, args.runs)):.1f} ms" for name, fn in parts.items()))
        print(machine_note())
        engine.dispose()
        rt.engine.dispose()


if __name__ == "__main__":
    main()
