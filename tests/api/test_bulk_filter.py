"""A bulk action on "all N matching" (issue 15, point 3): POST /api/v1/enrollments/bulk with the
list's filter instead of ids acts on every row the Command Center's list counts, past the page
shown, in one request and one transaction, on the rep's own enrollments only."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Enrollment, Event, Send, SendLog, Task
from addin_server.runtime import Runtime
from tests.conftest import Actor, make_actor
from tests.support.sending import email_step, launch, make_campaign, people


def statuses(runtime: Runtime, campaign_id: int | None = None) -> dict[str, int]:
    query = select(Enrollment.status, func.count()).group_by(Enrollment.status)
    if campaign_id is not None:
        query = query.where(Enrollment.campaign_id == campaign_id)
    with runtime.sessions() as s:
        return {st.value: n for st, n in s.execute(query)}


def test_select_all_matching_pauses_1000_people_in_one_request(
    runtime: Runtime, rep: Actor
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(1000))
    other = make_campaign(rep, [email_step(1)])
    launch(rep, other, people(5, prefix="o"))
    response = rep.post("/api/v1/enrollments/bulk", json={
        "action": "pause", "filter": {"view": "people", "status": "live", "campaign_id": cid}})
    assert response.status_code == 200, response.json
    assert response.json["matched"] == 1000 and len(response.json["changed"]) == 1000
    assert statuses(runtime, cid) == {"paused": 1000}
    assert statuses(runtime, other) == {"active": 5}  # outside the filter: untouched


def test_the_filter_is_the_lists_search_and_the_reps_own(
    runtime: Runtime, rep: Actor, client: FlaskClient
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, [*people(30), {"email": "zoe@special.test", "first_name": "Zoe"}])
    colleague = make_actor(runtime, client, "bob@acme.test")
    admin = make_actor(runtime, client, "root@acme.test", admin=True)
    theirs = make_campaign(colleague, [email_step(1)])
    launch(colleague, theirs, [{"email": "zed@special.test"}])
    searched = rep.post("/api/v1/enrollments/bulk", json={
        "action": "stop", "filter": {"view": "people", "q": "special"}})
    assert searched.status_code == 200, searched.json
    assert searched.json["matched"] == 1
    assert statuses(runtime, cid) == {"active": 30, "stopped": 1}
    assert statuses(runtime, theirs) == {"active": 1}  # a colleague's person is not the rep's
    # An admin's lists show their own work too: the filter matches nothing of others.
    nothing = admin.post("/api/v1/enrollments/bulk", json={
        "action": "pause", "filter": {"view": "people"}})
    assert nothing.status_code == 422 and nothing.json["errors"][0]["field"] == "filter"
    # "Everyone" includes the stopped one: it is reported unchanged, the rest resumed.
    rep.post("/api/v1/enrollments/bulk", json={"action": "pause", "filter": {"view": "people"}})
    everyone = rep.post("/api/v1/enrollments/bulk", json={
        "action": "resume", "filter": {"view": "people", "status": "all"}})
    assert everyone.json["matched"] == 31 and len(everyone.json["changed"]) == 30
    assert [u["message"] for u in everyone.json["unchanged"]] == [
        "the enrollment is stopped; only a paused one resumes"]


def test_an_emails_tab_filter_acts_on_the_people_of_its_emails(
    runtime: Runtime, rep: Actor
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(12))
    with runtime.sessions.begin() as s:
        held = list(s.scalars(select(Send.id).order_by(Send.id).limit(4)))
        s.execute(update(Send).where(Send.id.in_(held)).values(state=SendState.HELD,
                                                              reason="missing merge fields: x"))
    response = rep.post("/api/v1/enrollments/bulk", json={
        "action": "pause", "filter": {"view": "emails", "state": "waiting"}})
    assert response.status_code == 200, response.json
    assert response.json["matched"] == 4
    with runtime.sessions() as s:
        paused = set(s.scalars(select(Send.id).join(Enrollment, Enrollment.id == Send.enrollment_id)
                               .where(Enrollment.status == EnrollmentStatus.PAUSED)))
    assert paused == set(held)


def test_ids_or_filter_exactly_one_and_a_bad_filter_names_its_field(rep: Actor) -> None:
    cid = make_campaign(rep, [email_step(1)])
    (eid,) = launch(rep, cid, people(1))
    for body in ({"action": "pause"},
                 {"action": "pause", "ids": [eid], "filter": {"view": "people"}}):
        response = rep.post("/api/v1/enrollments/bulk", json=body)
        assert response.status_code == 422 and response.json["errors"][0]["field"] == "ids"
    for flt, field in (({"view": "tasks"}, "filter.view"), ({"view": "people", "status": "x"},
                                                           "filter.status"),
                       ({"view": "people", "campaign_id": 0}, "filter.campaign_id"),
                       ({"view": "people", "q": "x" * 201}, "filter.q")):
        response = rep.post("/api/v1/enrollments/bulk", json={"action": "pause", "filter": flt})
        assert response.status_code == 422, response.json
        assert response.json["errors"][0]["field"] == field
    # A campaign of another rep or none: nothing matches, nothing changes.
    gone = rep.post("/api/v1/enrollments/bulk", json={
        "action": "stop", "filter": {"view": "people", "campaign_id": cid + 1000}})
    assert gone.status_code == 422 and gone.json["errors"][0]["field"] == "filter"


def test_a_bulk_stop_ends_each_person_as_one_stop_would(runtime: Runtime, rep: Actor) -> None:
    """The set-based stop: every pending send cancelled with its history line, every open task
    cancelled, one feed event and one count each, as `POST /enrollments/{id}/stop` does."""
    cid = make_campaign(rep, [
        {"day": 1, "type": "call", "instructions": "Ring"}, email_step(2)])
    ids = launch(rep, cid, people(30))
    single = make_campaign(rep, [{"day": 1, "type": "call", "instructions": "Ring"},
                                 email_step(2)])
    (one,) = launch(rep, single, people(1, prefix="s"))
    with runtime.sessions.begin() as s:  # a pending send beside each open task
        for eid in [*ids, one]:
            enrollment = s.get(Enrollment, eid)
            assert enrollment is not None
            s.add(Send(org_id=enrollment.org_id, enrollment_id=eid, rep_id=enrollment.rep_id,
                       position=1, state=SendState.SCHEDULED, due_at=runtime.now(),
                       created_at=runtime.now(), updated_at=runtime.now()))
    bulk = rep.post("/api/v1/enrollments/bulk", json={
        "action": "stop", "filter": {"view": "people", "campaign_id": cid}})
    assert bulk.status_code == 200 and bulk.json["matched"] == 30
    assert rep.post(f"/api/v1/enrollments/{one}/stop").status_code == 200

    def outcome(campaign_id: int) -> tuple[object, ...]:
        with runtime.sessions() as s:
            scope = Enrollment.campaign_id == campaign_id
            sends = s.execute(select(Send.state, Send.reason, func.count()).join(
                Enrollment, Enrollment.id == Send.enrollment_id).where(scope)
                .group_by(Send.state, Send.reason)).all()
            tasks = s.execute(select(Task.status, func.count()).join(
                Enrollment, Enrollment.id == Task.enrollment_id).where(scope)
                .group_by(Task.status)).all()
            logs = s.scalar(select(func.count()).select_from(SendLog).join(
                Send, Send.id == SendLog.send_id).join(
                Enrollment, Enrollment.id == Send.enrollment_id).where(
                scope, SendLog.to_state == "cancelled", SendLog.note == "stopped by the rep"))
            events = s.scalar(select(func.count()).select_from(Event).where(
                Event.campaign_id == campaign_id, Event.type == "enrollment_stopped",
                Event.data["reason"].as_string() == "stopped by the rep"))
        report = rep.get(f"/api/v1/campaigns/{campaign_id}/report").json["totals"]
        return ([(st.value, r, n) for st, r, n in sends], [(t.value, n) for t, n in tasks],
                logs, events, report["stopped"], report["active"])

    assert outcome(cid) == ([("cancelled", "stopped by the rep", 30)], [("cancelled", 30)],
                            30, 30, 30, 0)
    assert outcome(single) == ([("cancelled", "stopped by the rep", 1)], [("cancelled", 1)],
                               1, 1, 1, 0)
