"""Engine and sessions. Plain SQLAlchemy so that jobs open sessions without an app context.

One session per request and one per job; they commit at those two edges only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    Engine,
    Result,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN; we issue BEGIN ourselves so that
            # a conditional UPDATE is atomic with its SELECT.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock at BEGIN. With a deferred BEGIN, two transactions
            # that read and then write (two requests, a worker and the dispatcher) fail with
            # SQLITE_BUSY ("database is locked") at once instead of waiting: the busy timeout
            # cannot help a reader whose snapshot another writer has made stale.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for a job or a command: commit once at the end, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def utcnow() -> datetime:
    """The clock, read only at the edges (requests, jobs, commands), never in the domain."""
    return datetime.now(UTC)


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE (the claim and finish steps rely on it)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def allocate_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """Primary keys for `count` new rows of `table`, taken from its PostgreSQL sequence in one
    round trip; None on SQLite (the rows get theirs on insert and are read back)."""
    if count == 0 or session.get_bind().dialect.name != "postgresql":
        return None
    rows = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table.name, "n": count},
    )
    return [int(r[0]) for r in rows]


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one table in the session's transaction, on the driver's bulk path:
    COPY on PostgreSQL (an executemany of INSERTs is a statement per row there), the sqlite3
    cursor's executemany on SQLite. Values go through the same bind processing as SQLAlchemy's
    (enums to their values, JSON to text, UTC datetimes). Every row gives the same columns."""
    if not rows:
        return
    rows = _with_defaults(table, rows)
    conn = session.connection()
    columns = list(rows[0])
    processors = [_bind(table.c[name].type, conn.dialect) for name in columns]
    values = (
        [p(row[c]) for p, c in zip(processors, columns, strict=True)] for row in rows
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as cp:
            for row_values in values:
                cp.write_row(row_values)
        return
    marks = ", ".join("?" for _ in columns)
    cur = raw.cursor()
    try:
        cur.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)
    finally:
        cur.close()


def _with_defaults(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # COPY applies no Python-side column defaults: fill them in, as an ORM insert would.
    missing = {}
    for column in table.columns:
        default = column.default
        if column.name in rows[0] or default is None or not getattr(default, "is_scalar", False):
            continue
        missing[column.name] = default.arg  # type: ignore[attr-defined]
    if not missing:
        return rows
    return [{**missing, **row} for row in rows]


def _bind(column_type: Any, dialect: Dialect) -> Any:
    if isinstance(column_type, JSON) and dialect.name == "postgresql":
        return lambda v: None if v is None else json.dumps(v)  # COPY takes JSON as text
    processor = column_type.bind_processor(dialect)
    if processor is not None:
        return processor
    return lambda v: v.value if isinstance(v, Enum) else v


def among(session: Session, column: Any, values: list[Any]) -> Any:
    """`column IN values` for many values: one array parameter on PostgreSQL (a long IN list
    costs psycopg a slow parse per statement), a plain IN on SQLite (callers chunk it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, literal
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


def chunk_size(session: Session) -> int:
    """How many values one `among` may carry."""
    return 100_000 if session.get_bind().dialect.name == "postgresql" else 500


LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern (with `escape=LIKE_ESCAPE`) matching `text` anywhere, lower-cased: the
    searcher's % and _ are letters, not wildcards."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
