"""New mailboxes ramp up: a connected Gmail or Microsoft mailbox starts at a low cap that grows
each day to its target (defaults 20 a day, +5 a day), and the mailbox forecast shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from addin_server.enums import MailboxProvider
from addin_server.mailboxes.connect import attach_mailbox
from addin_server.models import Mailbox, Rep
from addin_server.runtime import Runtime
from addin_server.sending.pacing import MailboxPace, Waiting, assign_slots
from tests.conftest import FrozenClock, make_actor
from tests.support.sending import email_step, launch, make_campaign, people

PARIS = ZoneInfo("Europe/Paris")


def test_the_cap_grows_each_day_up_to_the_target() -> None:
    pace = MailboxPace(tz=PARIS, daily_cap=40, ramp_start=date(2026, 11, 24), ramp_first=20,
                       ramp_step=5)
    caps = [pace.cap_on(date(2026, 11, 24) + timedelta(days=i)) for i in range(7)]
    assert caps == [20, 25, 30, 35, 40, 40, 40]
    assert MailboxPace(tz=PARIS, daily_cap=40).cap_on(date(2026, 11, 24)) == 40  # no ramp


def test_slots_follow_the_ramp() -> None:
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    pace = MailboxPace(tz=PARIS, daily_cap=450, ramp_start=now.date(), ramp_first=2,
                       ramp_step=1)
    items = [Waiting(i, now, now, 0, PARIS) for i in range(6)]
    slots = assign_slots(pace, [], items, now)
    days = [s.at.astimezone(PARIS).date().day for s in slots]
    assert days == [24, 24, 25, 25, 25, 26]
    assert "ramping up" in slots[2].reason


def test_a_connected_mailbox_ramps_and_the_forecast_shows_it(
    runtime: Runtime, client: Any, clock: FrozenClock
) -> None:
    actor = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)
    with runtime.sessions.begin() as s:
        rep = s.get(Rep, actor.rep_id)
        assert rep is not None
        box = attach_mailbox(s, runtime.settings, rep, MailboxProvider.GMAIL, "ann@acme.test",
                             runtime.now())
        assert (box.ramp_first, box.ramp_step, box.daily_cap) == (20, 5, 450)
        box_id = box.id
    cid = make_campaign(actor, [email_step(1)])
    launch(actor, cid, people(60))
    body = actor.get(f"/api/v1/mailboxes/{box_id}/forecast").json
    assert [d["cap"] for d in body["days"][:4]] == [20, 25, 30, 35]
    assert [d["expected"] for d in body["days"][:3]] == [20, 25, 15]


def test_the_local_development_mailbox_does_not_ramp(runtime: Runtime, rep: Any) -> None:
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.rep_id))
        assert box is not None and box.ramp_start is None
