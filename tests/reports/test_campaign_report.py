"""The campaign report's figures, on both databases: counted as things happen, honestly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.enrollments.tasks import record_sent_email
from addin_server.enums import SendState
from addin_server.inbound.rules import process_inbound
from addin_server.inbound.unsubscribe import unsubscribe
from addin_server.models import Enrollment, Mailbox, Send, Task
from addin_server.sending.delivery import fail, hold
from tests.api.test_campaigns import create
from tests.conftest import Actor, FrozenClock, load_rep, make_actor
from tests.support.replies import campaign, fixture, launch, mark_sent, reply


def box(session: Session, actor: Actor) -> Mailbox:
    found = session.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
    assert found is not None
    return found


def report(actor: Actor, cid: int, **query: Any) -> dict[str, Any]:
    response = actor.get(f"/api/v1/campaigns/{cid}/report", query_string=query)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def inbound(session: Session, actor: Actor, msg: Any, pid: str, thread: str,
            clock: FrozenClock) -> str:
    out = process_inbound(session, box(session, actor), msg, provider_message_id=pid,
                          thread_id=thread, now=clock())
    session.commit()
    return out.kind


def bounce_of(email: str, message_id: str, send_id: int) -> Any:
    return fixture("gmail_bounce.eml", {"nobody@globex.test": email,
                                        "<campaign-41.1@acme.test>": message_id,
                                        "X-Campaign-Send-Id: 41": f"X-Campaign-Send-Id: {send_id}"})


def test_the_funnel_and_the_first_step_count_each_outcome_honestly(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = campaign(rep)
    people = ["alice", "bob", "carol", "dave", "erin", "frank"]
    ids = dict(zip(people, launch(rep, cid, *(f"{p}@globex.test" for p in people)),
                   strict=True))
    sends = {p: mark_sent(session, ids[p], clock(), thread=f"t-{p}", message_id=f"<{p}@acme.test>")
             for p in people}
    clock.advance(hours=2)
    # Alice replies twice: one reply to step 1.
    for n in (1, 2):
        msg = reply("alice@globex.test", rep.email, in_reply_to="<alice@acme.test>",
                    body=f"Reply number {n}")
        assert inbound(session, rep, msg, f"a{n}", "t-alice", clock) == "human"
    # Bob is out of office (paused until 2 December): not a reply.
    ooo = fixture("exchange_ooo_en.eml", {"<campaign-42.1@acme.test>": "<bob@acme.test>"})
    ooo.replace_header("From", "Bob <bob@globex.test>")
    assert inbound(session, rep, ooo, "o1", "t-bob", clock) == "out_of_office"
    # Carol's ticket system answers automatically: not a reply.
    auto = fixture("ticket_autoreply.eml")
    auto.replace_header("From", "carol@globex.test")
    auto["In-Reply-To"] = "<carol@acme.test>"
    assert inbound(session, rep, auto, "c1", "t-carol", clock) == "auto_reply"
    # Dave replies, then his address bounces: a bounce only.
    msg = reply("dave@globex.test", rep.email, in_reply_to="<dave@acme.test>")
    assert inbound(session, rep, msg, "d1", "t-dave", clock) == "human"
    assert report(rep, cid)["steps"][0]["replied"] == 2
    assert inbound(session, rep, bounce_of("dave@globex.test", "<dave@acme.test>",
                                           sends["dave"].id), "d2", "t-dave", clock) == "bounce"
    # Erin is stopped by hand; Frank unsubscribes.
    assert rep.post(f"/api/v1/enrollments/{ids['erin']}/stop").status_code == 200
    unsubscribe(session, load_rep(session, rep).org_id, "frank@globex.test", clock(),
                source="link")
    session.commit()

    got = report(rep, cid)
    totals = got["totals"]
    assert {k: totals[k] for k in ("enrolled", "emailed", "active", "out_of_office", "finished",
                                   "replied", "reply_rate", "bounced", "unsubscribed",
                                   "stopped", "sent")} == {
        "enrolled": 6, "emailed": 6, "active": 1, "out_of_office": 1, "finished": 0,
        "replied": 1, "reply_rate": round(1 / 6, 3), "bounced": 1, "unsubscribed": 1,
        "stopped": 1, "sent": 6}
    first = got["steps"][0]
    assert (first["position"], first["type"], first["sent"], first["replied"],
            first["bounced"], first["unsubscribed"]) == (0, "email", 6, 1, 1, 1)
    assert all(s["sent"] == 0 for s in got["steps"][1:])
    assert got["days"] == [{"day": "2026-11-24", "sent": 6, "replied": 1}]


def tasks_at(session: Session, eid: int) -> list[tuple[int, str]]:
    """(id, type) of the enrollment's tasks; the read ends its transaction (the API's calls
    write in their own, and SQLite has one writer)."""
    rows = [(t.id, t.type.value) for t in session.scalars(
        select(Task).where(Task.enrollment_id == eid))]
    session.rollback()
    return rows


def test_call_outcomes_tasks_done_skipped_overdue_and_on_time(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = campaign(rep)
    people = ["ann", "ben", "cat", "dan"]
    ids = launch(rep, cid, *(f"{p}@globex.test" for p in people))
    for p, eid in zip(people, ids, strict=True):  # steps 1 and 2 are emails; step 3 a call
        mark_sent(session, eid, clock(), thread=f"t-{p}", message_id=f"<{p}1@acme.test>")
        mark_sent(session, eid, clock(), thread=f"t-{p}", message_id=f"<{p}2@acme.test>")
    calls = [tasks_at(session, eid)[0] for eid in ids]
    assert {t for _, t in calls} == {"call"}
    done = rep.post(f"/api/v1/tasks/{calls[0][0]}/complete",
                    json={"outcome": "left_voicemail", "note": "Call back Friday"})
    assert done.status_code == 200, done.json
    assert rep.post(f"/api/v1/tasks/{calls[1][0]}/skip").status_code == 200
    # A wrong outcome, or one on a task that is not a call, changes nothing.
    bad = rep.post(f"/api/v1/tasks/{calls[2][0]}/complete", json={"outcome": "maybe"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "outcome"
    # Ten days later: one call done late, one still open (overdue).
    clock.advance(days=10)
    late = rep.post(f"/api/v1/tasks/{calls[2][0]}/complete", json={"outcome": "connected"})
    assert late.status_code == 200
    task = rep.get(f"/api/v1/tasks/{calls[0][0]}").json
    assert (task["call_outcome"], task["note"]) == ("left_voicemail", "Call back Friday")

    call = report(rep, cid)["steps"][2]
    assert (call["type"], call["tasks_done"], call["tasks_skipped"], call["tasks_overdue"],
            call["tasks_on_time"], call["on_time_rate"]) == ("call", 2, 1, 1, 1, 0.5)
    assert call["calls"] == {"connected": 1, "left_voicemail": 1, "no_answer": 0,
                             "wrong_number": 0, "busy": 0}
    assert report(rep, cid)["steps"][1]["sent"] == 4
    # The two who moved on now have the step-4 email task, overdue as well.
    got = report(rep, cid)
    assert [s["tasks_overdue"] for s in got["steps"]] == [0, 0, 1, 2, 0, 0]
    assert got["totals"]["tasks_overdue"] == 3


def test_an_outcome_on_an_email_task_is_refused(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = create(rep, steps=[{"day": 1, "type": "linkedin"}]).json["id"]
    [eid] = launch(rep, cid, "ann@globex.test")
    [(task_id, _)] = tasks_at(session, eid)
    bad = rep.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "busy"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "outcome"
    assert rep.get(f"/api/v1/tasks/{task_id}").json["status"] == "open"


def test_held_and_failed_emails_show_on_their_step(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = campaign(rep, remove_on_bounce=False)
    a, b = launch(rep, cid, "ann@globex.test", "ben@globex.test")
    for eid, move in ((a, hold), (b, fail)):
        send = session.scalar(select(Send).where(Send.enrollment_id == eid))
        assert send is not None
        send.state, send.attempts = SendState.SENDING, 1
        session.flush()
        assert move(session, send.id, "no first_name", clock(), attempt=1)
    session.commit()
    first = report(rep, cid)["steps"][0]
    assert (first["held"], first["failed"], first["sent"]) == (1, 1, 0)


def test_filters_by_dates_and_rep_and_refuses_bad_ones(
    rep: Actor, session: Session, clock: FrozenClock, runtime: Any, client: Any
) -> None:
    cid = campaign(rep)
    [eid] = launch(rep, cid, "ann@globex.test")
    mark_sent(session, eid, clock(), thread="t", message_id="<a@acme.test>")
    colleague = make_actor(runtime, client, "cole@acme.test")
    stranger = make_actor(runtime, client, "sam@other.test", org="Other")
    assert report(rep, cid, **{"from": "2026-11-24", "to": "2026-11-24"})["totals"]["sent"] == 1
    later = report(rep, cid, **{"from": "2026-11-25"})
    assert (later["totals"]["sent"], later["totals"]["enrolled"], later["days"]) == (0, 0, [])
    assert report(rep, cid, rep_id=str(rep.rep_id))["totals"]["sent"] == 1
    assert report(rep, cid, rep_id=str(colleague.rep_id))["totals"]["enrolled"] == 0
    for query, field in (({"from": "24/11/2026"}, "from"),
                         ({"from": "2026-11-25", "to": "2026-11-24"}, "to"),
                         ({"rep_id": str(stranger.rep_id)}, "rep_id"),
                         ({"rep_id": "x"}, "rep_id")):
        bad = rep.get(f"/api/v1/campaigns/{cid}/report", query_string=query)
        assert bad.status_code == 422 and bad.json["errors"][0]["field"] == field, query
    assert stranger.get(f"/api/v1/campaigns/{cid}/report").status_code == 404
    assert colleague.get(f"/api/v1/campaigns/{cid}/report").status_code == 404


def test_the_report_as_csv(rep: Actor, session: Session, clock: FrozenClock) -> None:
    cid = campaign(rep)
    [eid] = launch(rep, cid, "ann@globex.test")
    mark_sent(session, eid, clock(), thread="t", message_id="<a@acme.test>")
    response = rep.client.get(f"/api/v1/campaigns/{cid}/report", headers={
        **rep.headers, "Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("position,type,day,sent,held,failed,replied,reply_rate")
    assert lines[0].endswith("calls_wrong_number,calls_busy")
    assert lines[1].startswith("1,email,1,1,0,0,0,0.0,")
    assert len(lines) == 7  # a header and six steps


def test_counters_are_kept_not_recounted(rep: Actor, session: Session, clock: FrozenClock
                                         ) -> None:
    """Counted once: a send reported twice (the job and the reconciliation) counts once."""
    cid = campaign(rep)
    [eid] = launch(rep, cid, "ann@globex.test")
    send = mark_sent(session, eid, clock(), thread="t", message_id="<a@acme.test>")
    enrollment = session.get(Enrollment, eid)
    assert enrollment is not None
    record_sent_email(session, enrollment=enrollment, position=0, mailbox_id=send.mailbox_id or 0,
                      to_addr="ann@globex.test", subject="s", body_html="", sent_at=clock(),
                      provider_message_id="p", thread_id="t", rfc_message_id="<a@acme.test>",
                      references="")
    session.commit()
    assert report(rep, cid)["steps"][0]["sent"] == 1
    clock.advance(days=1)
    assert report(rep, cid)["days"] == [{"day": "2026-11-24", "sent": 1, "replied": 0}]
