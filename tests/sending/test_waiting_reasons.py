"""The reason shown for a waiting send is the one that holds it: a disconnected or paused
mailbox outranks a pacing reason written earlier, on every surface (the sends API, the
enrollment view, the `why` command); a send waiting for a rep who has no mailbox at all says
so, with what to do. Both databases."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.mailboxes.state import disconnect_mailbox
from addin_server.models import Mailbox, Send
from addin_server.runtime import Runtime
from addin_server.sending.pacing import pace_due
from tests.api.test_campaigns import create
from tests.conftest import Actor, FrozenClock, make_actor


def _reasons(rep: Actor, send_id: int, eid: int) -> list[str]:
    """What the sends API and the enrollment view say about the send."""
    return [rep.get(f"/api/v1/sends/{send_id}").json["reason"],
            rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]["reason"]]


def test_a_disconnected_mailbox_outranks_pacing(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    rep = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)
    with runtime.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL,
                      address="ann@acme.test", status=MailboxStatus.CONNECTED,
                      min_gap_seconds=3600, created_at=runtime.now(),
                      updated_at=runtime.now()))
    cid = create(rep).json["id"]
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test"}, {"email": "b@corp.test"}]})
    assert launched.status_code == 201, launched.json
    clock.advance(days=2)
    with runtime.sessions.begin() as s:
        pace_due(s, runtime.now())
        held = s.scalars(select(Send).where(Send.reason.like("pacing%"))).all()
        assert len(held) == 1
        send_id, eid = held[0].id, held[0].enrollment_id
        box = s.scalar(select(Mailbox))
        assert box is not None
        disconnect_mailbox(s, box, "invalid_grant", runtime.now())
    for enrolled in launched.json["enrollments"]:
        sid = rep.get(f"/api/v1/enrollments/{enrolled['id']}").json["steps"][0]["send_id"]
        for reason in _reasons(rep, sid, enrolled["id"]):
            assert "is disconnected: reconnect it" in reason, reason
            assert "pacing" not in reason
    assert send_id and eid
    # The dispatcher's pacing pass leaves a disconnected mailbox's sends alone: the first
    # send, due now, gets no pacing reason of its own.
    first = next(e["id"] for e in launched.json["enrollments"] if e["id"] != eid)
    with runtime.sessions.begin() as s:
        assert pace_due(s, runtime.now() + timedelta(minutes=5)) == 0
        row = s.scalar(select(Send).where(Send.enrollment_id == first))
        assert row is not None and "pacing" not in row.reason
    assert rep.get(f"/api/v1/sends/{send_id}").json["reason"].startswith("mailbox ")


def test_a_rep_without_a_mailbox_is_told_what_to_do(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    rep = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)
    cid = create(rep).json["id"]
    eid = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": [{"email": "a@corp.test"}]}).json["enrollments"][0]["id"]
    clock.advance(days=2)
    with runtime.sessions() as s:
        send = s.scalar(select(Send))
        assert send is not None and send.mailbox_id is None
        send_id = send.id
    reasons = [i["reason"] for i in rep.get("/api/v1/sends").json["sends"]]
    assert reasons and all(r.startswith("no mailbox connected: connect Gmail or Outlook")
                           for r in reasons), reasons
    for reason in _reasons(rep, send_id, eid):
        assert reason.startswith("no mailbox connected: connect Gmail or Outlook"), reason
    with runtime.sessions() as s:  # the row itself says so (exports, `why`)
        assert s.get(Send, send_id).reason.startswith("no mailbox connected")  # type: ignore[union-attr]
