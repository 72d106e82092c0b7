"""Per-mailbox pacing: the pure slot rule, and the dispatcher holding a mailbox's due sends to
its gap and daily cap (both databases, real Redis, the local mailbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import SendState
from addin_server.mailboxes.pacing import Slot, slots
from addin_server.models import Mailbox, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.sending import cycle, email_step, launch, make_campaign

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
S, H = timedelta(seconds=1), timedelta(hours=1)


@pytest.mark.parametrize(("kwargs", "due", "expected"), [
    (dict(sent_in_window=[], in_progress=0, daily_cap=None, min_gap_seconds=0), 3,
     [Slot(NOW, False)] * 3),
    # 20 s apart, counted from the last send 5 s ago.
    (dict(sent_in_window=[NOW - 5 * S], in_progress=0, daily_cap=None, min_gap_seconds=20), 3,
     [Slot(NOW + 15 * S, False), Slot(NOW + 35 * S, False), Slot(NOW + 55 * S, False)]),
    # One send being handed over counts as sent now.
    (dict(sent_in_window=[], in_progress=1, daily_cap=None, min_gap_seconds=20), 1,
     [Slot(NOW + 20 * S, False)]),
    # Cap 3 reached: each slot waits for the oldest send of the window to be 24 h old.
    (dict(sent_in_window=[NOW - 23 * H, NOW - 2 * H, NOW - H], in_progress=0, daily_cap=3,
          min_gap_seconds=0), 3,
     [Slot(NOW + H, True), Slot(NOW + 22 * H, True), Slot(NOW + 23 * H, True)]),
    (dict(sent_in_window=[], in_progress=0, daily_cap=2, min_gap_seconds=0), 3,
     [Slot(NOW, False), Slot(NOW, False), Slot(NOW + 24 * H, True)]),
])
def test_slots(kwargs: dict, due: int, expected: list[Slot]) -> None:  # type: ignore[type-arg]
    assert slots(NOW, due, **kwargs) == expected


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"pace-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _states(runtime: Runtime) -> list[tuple[str, datetime]]:
    with runtime.sessions() as s:
        return [(x.state.value, x.due_at) for x in s.scalars(select(Send).order_by(Send.id))]


def test_the_dispatcher_keeps_a_mailbox_to_its_gap_and_daily_cap(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    with runtime.sessions.begin() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.rep_id))
        assert box is not None
        box.daily_cap, box.min_gap_seconds = 2, 60
    cid = make_campaign(rep, [email_step(1)])
    eids = launch(rep, cid, [{"email": f"p{i}@corp.test", "first_name": "P"} for i in range(3)])
    t0 = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # 09:30 Paris
    clock.set(t0)
    cycle(runtime, 2)
    # One now; the next a gap later; the third would make three in 24 hours: a day later.
    day = timedelta(hours=24)
    assert _states(runtime) == [("sent", t0), ("scheduled", t0 + 60 * S),
                                ("scheduled", t0 + day)]
    view = rep.get(f"/api/v1/enrollments/{eids[1]}").json["steps"][0]
    assert view["reason"] == ("pacing 60 s between emails from ann@acme.test: next send at "
                              "2026-11-24 08:31:00 UTC")
    view = rep.get(f"/api/v1/enrollments/{eids[2]}").json["steps"][0]
    assert view["reason"] == ("daily cap of 2 emails from ann@acme.test reached: next send at "
                              "2026-11-25 08:30:00 UTC")
    clock.set(t0 + 59 * S)
    cycle(runtime, 2)
    assert [s for s, _ in _states(runtime)] == ["sent", "scheduled", "scheduled"]
    clock.set(t0 + 60 * S)
    cycle(runtime, 2)
    assert [s for s, _ in _states(runtime)] == ["sent", "sent", "scheduled"]
    clock.set(t0 + day - S)
    cycle(runtime, 2)
    assert [s for s, _ in _states(runtime)] == ["sent", "sent", "scheduled"]
    clock.set(t0 + timedelta(hours=24))
    cycle(runtime, 2)
    assert [s for s, _ in _states(runtime)] == [SendState.SENT.value] * 3
    with runtime.sessions() as s:
        planned = [x.planned_at for x in s.scalars(select(Send).order_by(Send.id))]
    assert planned == [t0] * 3  # the campaign's time is kept
