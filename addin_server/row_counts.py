"""How many rows a rep has in each state, kept by the database itself (PostgreSQL): sends by
state (`send_counts`) and enrollments by campaign and status (`enrollment_counts`).

The Command Center, the campaigns list and the outbox API show true totals. Counted from the
rows, even on an index alone, that is one index entry per row: 150,000 scheduled sends took 140
to 290 ms on a busy 2-core machine, 100,000 live people 30 to 65 ms, on every request. So
PostgreSQL keeps these tables with statement triggers on `sends` and `enrollments` (insert,
update, delete; a person paused or resumed moves their sends between `paused` rows), in the
transaction of the change: every writer is counted, bulk UPDATEs and COPY included, with no
call to forget. Each key is split in eight shards (by row id) so that workers writing at once
rarely wait on one row.

`install` is run by migrate.upgrade: idempotent, and it fills the counts from the rows the
first time. SQLite (development, one user) counts the rows instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection, and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Enrollment, EnrollmentCount, Send, SendCount

TO_GO = (SendState.SCHEDULED, SendState.QUEUED)
StateCounts = dict[SendState, tuple[int, int]]

_UPSERT = """
    INSERT INTO send_counts (rep_id, state, mailbox_id, paused, shard, n)
    SELECT rep_id, state, mailbox_id, paused, shard, sum(d) FROM ({rows}) x
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (rep_id, state, mailbox_id, paused, shard)
    DO UPDATE SET n = send_counts.n + EXCLUDED.n"""
# One send as a row of counts: d is +1 or -1.
_ROW = """SELECT {s}.rep_id, {s}.state, coalesce({s}.mailbox_id, 0) AS mailbox_id,
    coalesce(e.status = 'paused', false) AS paused, {s}.id % 8 AS shard, {d} AS d
    FROM {source} LEFT JOIN enrollments e ON e.id = {s}.enrollment_id"""
_CHANGED = ("(o.state, o.rep_id, coalesce(o.mailbox_id, 0)) IS DISTINCT FROM "
            "(n.state, n.rep_id, coalesce(n.mailbox_id, 0))")
_MOVED = "(o.status = 'paused') <> (n.status = 'paused')"

_FUNCTIONS = {
    "send_counts_insert": _UPSERT.format(rows=_ROW.format(s="s", d=1, source="new_rows s")),
    "send_counts_delete": _UPSERT.format(rows=_ROW.format(s="s", d=-1, source="old_rows s")),
    "send_counts_update": _UPSERT.format(rows=(
        _ROW.format(s="o", d=-1, source=f"old_rows o JOIN new_rows n ON n.id = o.id AND "
                                        f"{_CHANGED}")
        + " UNION ALL "
        + _ROW.format(s="n", d=1, source=f"new_rows n JOIN old_rows o ON o.id = n.id AND "
                                         f"{_CHANGED}"))),
    # A person paused or resumed: their sends move between paused and not.
    "send_counts_pause": _UPSERT.format(rows=f"""
        SELECT s.rep_id, s.state, coalesce(s.mailbox_id, 0) AS mailbox_id, p.paused,
            s.id % 8 AS shard, p.d
        FROM (SELECT o.id, o.status = 'paused' AS paused, -1 AS d
              FROM old_rows o JOIN new_rows n ON n.id = o.id AND {_MOVED}
              UNION ALL
              SELECT n.id, n.status = 'paused', 1
              FROM new_rows n JOIN old_rows o ON o.id = n.id AND {_MOVED}) p
        JOIN sends s ON s.enrollment_id = p.id"""),
}
_TRIGGERS = {
    "send_counts_insert": "AFTER INSERT ON sends REFERENCING NEW TABLE AS new_rows",
    "send_counts_delete": "AFTER DELETE ON sends REFERENCING OLD TABLE AS old_rows",
    "send_counts_update": ("AFTER UPDATE ON sends "
                           "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "send_counts_pause": ("AFTER UPDATE ON enrollments "
                          "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
}
_E_UPSERT = """
    INSERT INTO enrollment_counts (rep_id, campaign_id, status, shard, n)
    SELECT rep_id, campaign_id, status, shard, sum(d) FROM ({rows}) x
    GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (rep_id, campaign_id, status, shard)
    DO UPDATE SET n = enrollment_counts.n + EXCLUDED.n"""
_E_ROW = "SELECT {e}.rep_id, {e}.campaign_id, {e}.status, {e}.id % 8 AS shard, {d} AS d FROM {src}"
_E_CHANGED = ("(o.status, o.rep_id, o.campaign_id) IS DISTINCT FROM "
              "(n.status, n.rep_id, n.campaign_id)")
_FUNCTIONS.update({
    "enrollment_counts_insert": _E_UPSERT.format(rows=_E_ROW.format(e="e", d=1,
                                                                    src="new_rows e")),
    "enrollment_counts_delete": _E_UPSERT.format(rows=_E_ROW.format(e="e", d=-1,
                                                                    src="old_rows e")),
    "enrollment_counts_update": _E_UPSERT.format(rows=(
        _E_ROW.format(e="o", d=-1, src=f"old_rows o JOIN new_rows n ON n.id = o.id AND "
                                       f"{_E_CHANGED}")
        + " UNION ALL "
        + _E_ROW.format(e="n", d=1, src=f"new_rows n JOIN old_rows o ON o.id = n.id AND "
                                       f"{_E_CHANGED}"))),
})
_TRIGGERS.update({
    "enrollment_counts_insert": "AFTER INSERT ON enrollments REFERENCING NEW TABLE AS new_rows",
    "enrollment_counts_delete": "AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows",
    "enrollment_counts_update": ("AFTER UPDATE ON enrollments "
                                 "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
})
_FILL = [_UPSERT.format(rows=_ROW.format(s="s", d=1, source="sends s")),
         _E_UPSERT.format(rows=_E_ROW.format(e="e", d=1, src="enrollments e"))]


def install(conn: Connection) -> None:
    """Create (or replace) the triggers on PostgreSQL; fill the counts when they are new."""
    if conn.dialect.name != "postgresql":
        return
    existing = set(conn.scalars(text(
        "SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid IN "
        "(to_regclass('sends'), to_regclass('enrollments')) AND t.tgname = ANY(:names)"),
        {"names": list(_TRIGGERS)}))
    for name, body in _FUNCTIONS.items():
        conn.execute(text(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
                          f"LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"))
    if existing == set(_TRIGGERS):
        return
    # New: no change may land between the fill and the triggers.
    conn.execute(text("LOCK TABLE sends, enrollments IN SHARE ROW EXCLUSIVE MODE"))
    for name, when in _TRIGGERS.items():
        table = when.split()[3]
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
        conn.execute(text(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
                          f"EXECUTE FUNCTION {name}()"))
    conn.execute(text("DELETE FROM send_counts"))
    conn.execute(text("DELETE FROM enrollment_counts"))
    for fill in _FILL:
        conn.execute(text(fill))


def sends_by_state(session: Session, rep_ids: Sequence[int], blocked: Collection[int],
                   states: Collection[SendState] | None = None) -> StateCounts:
    """These reps' sends by state: how many, and how many of them are still to go but held
    up (their person paused, their mailbox missing or in `blocked`)."""
    if session.get_bind().dialect.name == "postgresql":
        c = SendCount
        held = and_(c.state.in_([s.value for s in TO_GO]),
                    or_(c.paused, c.mailbox_id == 0, c.mailbox_id.in_(blocked)))
        query = (select(c.state, func.sum(c.n), func.sum(case((held, c.n), else_=0)))
                 .where(c.rep_id.in_(rep_ids)).group_by(c.state))
        if states is not None:
            query = query.where(c.state.in_([s.value for s in states]))
    else:
        paused = select(Enrollment.id).where(Enrollment.rep_id.in_(rep_ids),
                                             Enrollment.status == EnrollmentStatus.PAUSED)
        held = and_(Send.state.in_(TO_GO), or_(Send.mailbox_id.is_(None),
                                                Send.mailbox_id.in_(blocked),
                                                Send.enrollment_id.in_(paused)))
        query = (select(Send.state, func.count(), func.sum(case((held, 1), else_=0)))
                 .where(Send.rep_id.in_(rep_ids)).group_by(Send.state))
        if states is not None:
            query = query.where(Send.state.in_(states))
    return {SendState(s): (int(n or 0), int(h or 0)) for s, n, h in session.execute(query)
            if n}


def enrollments_by_status(session: Session, *, rep_ids: Sequence[int] | None = None,
                          campaign_ids: Sequence[int] | None = None,
                          statuses: Collection[EnrollmentStatus] | None = None
                          ) -> dict[tuple[int, EnrollmentStatus], int]:
    """How many enrollments of these reps and/or campaigns have each status, by campaign."""
    postgres = session.get_bind().dialect.name == "postgresql"
    c = EnrollmentCount if postgres else Enrollment
    n = func.sum(EnrollmentCount.n) if postgres else func.count()
    query = select(c.campaign_id, c.status, n).group_by(c.campaign_id, c.status)
    if rep_ids is not None:
        query = query.where(c.rep_id.in_(rep_ids))
    if campaign_ids is not None:
        query = query.where(c.campaign_id.in_(campaign_ids))
    if statuses is not None:
        query = query.where(c.status.in_([s.value for s in statuses]))
    return {(cid, EnrollmentStatus(status)): int(k) for cid, status, k in session.execute(query)
            if k}
