"""One page of a list ordered across several values of an indexed column (the states of a
send, the live statuses of an enrollment), read in index order.

`WHERE state IN (a, b) ORDER BY due_at` cannot be read in order from an index on (rep_id,
state, due_at): the database reads every matching row and sorts them (150,000 scheduled sends
for one page of 100). Each value's part is read in order on its own, at most offset + limit
rows of it, and the parts are merged, which is the same page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select, union_all
from sqlalchemy.orm import QueryableAttribute, Session


def page_keys(session: Session, parts: Sequence[Select[Any]],
              keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]], *, desc: bool,
              limit: int, offset: int) -> list[Any]:
    """The last of `keys` (the id) of each row of one page of the union of `parts`, ordered
    by `keys` (ascending, or descending with `desc`). Each part is a SELECT of one table,
    filtered so that an index gives its rows in `keys` order."""
    def ordered(part: Select[Any], n: int) -> Select[Any]:
        return (part.with_only_columns(*keys)
                .order_by(*(k.desc() if desc else k for k in keys)).limit(n))

    if not parts:
        return []
    if len(parts) == 1:
        query = ordered(parts[0], limit).offset(offset)
    else:
        merged = union_all(*(select(*sub.c) for sub in (
            ordered(p, offset + limit).subquery() for p in parts))).subquery()
        query = (select(*merged.c)
                 .order_by(*(c.desc() if desc else c for c in merged.c))
                 .limit(limit).offset(offset))
    return [row[-1] for row in session.execute(query)]


def in_order(rows: Sequence[Any], keys: Sequence[Any], key_of: Any) -> list[Any]:
    """Rows fetched by key (`WHERE id IN ...`), put back in the page's order."""
    by_key = {key_of(r): r for r in rows}
    return [by_key[k] for k in keys if k in by_key]
