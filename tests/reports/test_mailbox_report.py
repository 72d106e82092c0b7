"""The mailboxes' report: sent today and in 7 days against the cap, rates, paused time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.inbound.rules import process_inbound
from addin_server.mailboxes.state import disconnect_mailbox, pause_mailbox
from addin_server.models import Mailbox
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.replies import campaign, launch, mark_sent, reply


def box(session: Session, actor: Actor) -> Mailbox:
    found = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert found is not None
    return found


def test_sent_against_the_cap_rates_and_pauses(
    rep: Actor, session: Session, clock: FrozenClock, runtime: Any, client: Any
) -> None:
    cid = campaign(rep)
    ids = launch(rep, cid, "a@globex.test", "b@globex.test", "c@globex.test", "d@globex.test")
    box(session, rep).daily_cap = 40
    # Two sent eight days ago (outside the 7 days), one three days ago, one today.
    for eid, days in zip(ids, (8, 8, 3, 0), strict=True):
        mark_sent(session, eid, clock() - timedelta(days=days), thread=f"t{eid}",
                  message_id=f"<{eid}@acme.test>")
    process_inbound(session, box(session, rep), reply("a@globex.test", rep.email,
                    in_reply_to=f"<{ids[0]}@acme.test>"), provider_message_id="r1",
                    thread_id=f"t{ids[0]}", now=clock())
    pause_mailbox(session, box(session, rep), clock() + timedelta(hours=3), "rate limited",
                  clock())
    session.commit()
    [row] = rep.get("/api/v1/reports/mailboxes").json["mailboxes"]
    assert {k: row[k] for k in ("sent_today", "daily_cap", "cap_used_today", "sent_7_days",
                                "cap_7_days", "emails_30_days", "reply_rate",
                                "bounce_rate", "paused_seconds_left", "disconnected_since",
                                "reason")} == {
        "sent_today": 1, "daily_cap": 40, "cap_used_today": 0.025, "sent_7_days": 2,
        "cap_7_days": 280, "emails_30_days": 4, "reply_rate": 0.25, "bounce_rate": 0.0,
        "paused_seconds_left": 3 * 3600, "disconnected_since": None, "reason": "rate limited"}
    # Disconnected: since when, for how long; an admin sees every rep's mailboxes.
    disconnect_mailbox(session, box(session, rep), "invalid_grant", clock())
    address = box(session, rep).address
    session.commit()
    clock.advance(hours=5)
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    stranger = make_actor(runtime, client, "sam@other.test", org="Other")
    rows = {r["address"]: r for r in admin.get("/api/v1/reports/mailboxes").json["mailboxes"]}
    mine = rows[address]
    assert (mine["status"], mine["disconnected_seconds"]) == ("disconnected", 5 * 3600)
    assert len(rows) == 2
    assert [r["rep_email"] for r in stranger.get("/api/v1/reports/mailboxes")
            .json["mailboxes"]] == ["sam@other.test"]
    csv = rep.client.get("/api/v1/reports/mailboxes",
                         headers={**rep.headers, "Accept": "text/csv"}).get_data(as_text=True)
    assert csv.splitlines()[0].startswith("id,address,provider,rep_email,status,sent_today")
    assert len(csv.splitlines()) == 2
