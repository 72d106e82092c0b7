"""Launching people into a campaign through the API, and what each step then shows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.models import Enrollment, Event, Person, Send, Task
from tests.api.test_campaigns import create, email_step, six_steps
from tests.conftest import Actor, FrozenClock

# The clock: Tuesday 24 November 2026, 08:00 UTC (09:00 in Paris).


def count(session: Session, model: Any) -> int:
    n = session.scalar(select(func.count()).select_from(model)) or 0
    session.rollback()  # end the transaction: on SQLite it holds the write lock (IMMEDIATE)
    return n


def launch(actor: Actor, cid: int, **body: Any) -> Any:
    return actor.post(f"/api/v1/campaigns/{cid}/launch", json=body)


def test_launch_schedules_the_first_email_and_forecasts_the_rest(
    rep: Actor, session: Session
) -> None:
    cid = create(rep).json["id"]
    response = launch(rep, cid, people=[{"email": "Zoe@Corp.test", "first_name": "Zoé"}])
    assert response.status_code == 201, response.json
    (enrolled,) = response.json["enrollments"]
    assert enrolled["email"] == "zoe@corp.test"
    assert enrolled["status"] == "active"
    assert response.json["skipped"] == []
    view = rep.get(f"/api/v1/enrollments/{enrolled['id']}").json
    assert view["person"]["first_name"] == "Zoé"
    steps = view["steps"]
    # Day 1 Tue 24 Nov at 09:30 Paris = 08:30Z; day 3 Thu 26 Nov same time (replies to it);
    # day 4 call (task, no time); day 5 Mon 30 Nov (weekend skipped) manual email;
    # day 8 Thu 3 Dec 14:00 Paris = 13:00Z.
    assert [(s["status"], s["due_at"]) for s in steps] == [
        ("scheduled", "2026-11-24T08:30:00Z"),
        ("planned", "2026-11-26T08:30:00Z"),
        ("planned", None),
        ("planned", None),
        ("planned", None),
        ("planned", "2026-12-03T13:00:00Z"),
    ]
    assert [s["due_date"] for s in steps] == [
        "2026-11-24", "2026-11-26", "2026-11-27", "2026-11-30", "2026-12-02", "2026-12-03"]
    assert "scheduled for" in steps[0]["reason"]
    assert count(session, Send) == 1
    assert count(session, Task) == 0


def test_choose_at_launch_needs_a_time_and_writes_nothing_without_it(
    rep: Actor, session: Session
) -> None:
    steps = [email_step(1, "choose_at_launch"), *six_steps()[1:]]
    cid = create(rep, steps=steps).json["id"]
    refused = launch(rep, cid, people=[{"email": "a@corp.test"}])
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "first_send_at"
    assert count(session, Person) == 0
    assert count(session, Enrollment) == 0
    ok = launch(rep, cid, people=[{"email": "a@corp.test"}],
                first_send_at="2026-11-25T16:45:00+01:00")
    assert ok.status_code == 201, ok.json
    view = rep.get(f"/api/v1/enrollments/{ok.json['enrollments'][0]['id']}").json
    # Day 1 is the day of the chosen time; day 3 copies its time of day (16:45 Paris).
    assert view["steps"][0]["due_at"] == "2026-11-25T15:45:00Z"
    assert view["steps"][1]["due_at"] == "2026-11-27T15:45:00Z"


def test_fixed_time_can_be_overridden_at_launch(rep: Actor) -> None:
    cid = create(rep).json["id"]
    ok = launch(rep, cid, people=[{"email": "a@corp.test"}],
                first_send_at="2026-11-24T11:15:00Z")
    eid = ok.json["enrollments"][0]["id"]
    assert rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]["due_at"] == (
        "2026-11-24T11:15:00Z")


def test_a_due_time_already_past_means_now(rep: Actor, clock: FrozenClock) -> None:
    clock.advance(hours=6)  # 14:00 UTC: 09:30 Paris has passed
    cid = create(rep).json["id"]
    eid = launch(rep, cid, people=[{"email": "a@corp.test"}]).json["enrollments"][0]["id"]
    steps = rep.get(f"/api/v1/enrollments/{eid}").json["steps"]
    assert steps[0]["due_at"] == "2026-11-24T14:00:00Z"
    assert steps[1]["due_at"] == "2026-11-26T08:30:00Z"  # later steps keep their rhythm


def test_someone_active_unsubscribed_or_listed_twice_is_reported(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    cid = create(rep).json["id"]
    launch(rep, cid, people=[{"email": "a@corp.test"}])
    launch(rep, create(rep).json["id"], people=[{"email": "u@corp.test"}])
    session.execute(Person.__table__.update().where(Person.email == "u@corp.test")
                    .values(unsubscribed_at=clock()))
    session.commit()
    response = launch(rep, cid, people=[
        {"email": "a@corp.test"}, {"email": "b@corp.test"}, {"email": "B@corp.test"},
        {"email": "u@corp.test"}])
    assert response.status_code == 201
    assert [e["email"] for e in response.json["enrollments"]] == ["b@corp.test"]
    assert sorted((s["email"], s["reason"]) for s in response.json["skipped"]) == [
        ("a@corp.test", "already active in this campaign"),
        ("b@corp.test", "listed twice in this launch"),
        ("u@corp.test", "unsubscribed"),
    ]
    session.expire_all()
    assert count(session, Enrollment) == 3


def test_stopped_person_can_be_launched_again(rep: Actor) -> None:
    cid = create(rep).json["id"]
    eid = launch(rep, cid, people=[{"email": "a@corp.test"}]).json["enrollments"][0]["id"]
    assert rep.post(f"/api/v1/enrollments/{eid}/stop").json["status"] == "stopped"
    again = launch(rep, cid, people=[{"email": "a@corp.test"}])
    assert [e["email"] for e in again.json["enrollments"]] == ["a@corp.test"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"people": []}, "people"),
        ({"people": "a@b.test"}, "people"),
        ({"people": [{"email": "not-an-address"}]}, "people[0].email"),
        ({"people": [{"first_name": "No email"}]}, "people[0].email"),
        ({"people": [{"email": "a@b.test", "first_name": "Eve\r\nBcc: all@corp.test"}]},
         "people[0].first_name"),
        ({"people": [{"email": "a@b.test", "timezone": "Nowhere/City"}]}, "people[0].timezone"),
        ({"people": [{"email": "a@b.test", "fields": {"plan": {"nested": 1}}}]},
         "people[0].fields.plan"),
        ({"people": [{"email": "a@b.test", "fields": {"bad name": "x"}}]},
         "people[0].fields.bad name"),
        ({"people": [{"email": "a@b.test"}], "start_date": "26/11/2026"}, "start_date"),
        ({"people": [{"email": "a@b.test"}], "start_date": "2026-11-01"}, "start_date"),
        ({"people": [{"email": "a@b.test"}], "first_send_at": "2026-11-25T09:00:00"},
         "first_send_at"),
        ({"people": [{"email": "a@b.test"}], "start_date": "2026-11-25",
          "first_send_at": "2026-11-26T09:00:00+01:00"}, "first_send_at"),
    ],
)
def test_invalid_launches_write_nothing(
    rep: Actor, session: Session, body: dict[str, Any], field: str
) -> None:
    cid = create(rep).json["id"]
    response = launch(rep, cid, **body)
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert count(session, Person) == 0
    assert count(session, Enrollment) == 0
    assert count(session, Send) == 0


def test_one_bad_row_among_many_writes_nothing(rep: Actor, session: Session) -> None:
    cid = create(rep).json["id"]
    people: list[dict[str, Any]] = [{"email": f"p{i}@corp.test"} for i in range(50)]
    people[37]["email"] = "broken"
    response = launch(rep, cid, people=people)
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"field": "people[37].email", "message": "is not a valid email address"}]
    assert count(session, Person) == 0


def test_csv_launch_with_custom_fields(rep: Actor, session: Session) -> None:
    cid = create(rep).json["id"]
    csv_text = ("Email,First_Name,Company,Favourite Tool,plan\r\n"
                "zoe@corp.test,Zoé,Corp,Excel,gold\r\n"
                "max@corp.test,Max,,,\r\n")
    response = rep.post(f"/api/v1/campaigns/{cid}/launch?start_date=2026-11-25",
                        data=csv_text.encode(), content_type="text/csv")
    assert response.status_code == 201, response.json
    assert [e["email"] for e in response.json["enrollments"]] == ["zoe@corp.test",
                                                                  "max@corp.test"]
    zoe = session.scalar(select(Person).where(Person.email == "zoe@corp.test"))
    assert zoe is not None
    assert (zoe.first_name, zoe.company) == ("Zoé", "Corp")
    assert zoe.fields == {"favourite_tool": "Excel", "plan": "gold"}
    session.rollback()
    eid = response.json["enrollments"][0]["id"]
    assert rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]["due_at"] == (
        "2026-11-25T08:30:00Z")


@pytest.mark.parametrize(
    ("csv_text", "field"),
    [
        ("name,company\r\nZoe,Corp\r\n", "csv"),
        ("email\r\n", "csv"),
        ("email,first_name\r\nzoe@corp.test,Zoe,extra\r\n", "csv line 2"),
        ("email\r\nnot-an-email\r\n", "csv line 2, column email"),
    ],
)
def test_bad_csv_is_refused(rep: Actor, session: Session, csv_text: str, field: str) -> None:
    cid = create(rep).json["id"]
    response = rep.post(f"/api/v1/campaigns/{cid}/launch", data=csv_text.encode(),
                        content_type="text/csv")
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == field
    assert count(session, Person) == 0


@pytest.mark.parametrize(
    ("encoding", "separator"),
    [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"), ("cp1252", ";")],
)
def test_csv_encodings_and_separators_are_detected(
    rep: Actor, session: Session, encoding: str, separator: str
) -> None:
    cid = create(rep).json["id"]
    text = separator.join(["Email Address", "First Name", "Société"]) + "\r\n" + \
        separator.join(["zoe@corp.test", "Zoé", "Crème"]) + "\r\n"
    response = rep.post(f"/api/v1/campaigns/{cid}/launch", data=text.encode(encoding),
                        content_type="text/csv")
    assert response.status_code == 201, response.json
    zoe = session.scalars(select(Person)).one()
    assert (zoe.email, zoe.first_name, zoe.fields) == ("zoe@corp.test", "Zoé",
                                                       {"société": "Crème"})
    session.rollback()


def test_ten_thousand_people_in_one_request(rep: Actor, session: Session) -> None:
    cid = create(rep).json["id"]
    people = [{"email": f"person{i}@corp{i % 97}.test", "first_name": f"P{i}",
               "timezone": ("America/New_York" if i % 3 else None)} for i in range(10_000)]
    response = launch(rep, cid, people=people)
    assert response.status_code == 201
    assert len(response.json["enrollments"]) == 10_000
    assert count(session, Send) == 10_000
    assert count(session, Enrollment) == 10_000
    ids = {e["id"] for e in response.json["enrollments"]}
    assert len(ids) == 10_000
    too_many = launch(rep, cid, people=[*people, {"email": "one@more.test"}])
    assert too_many.status_code == 422
    assert too_many.json["errors"][0]["field"] == "people"


def test_recipient_time_zone_when_the_campaign_asks(rep: Actor) -> None:
    cid = create(rep, settings={"use_recipient_timezone": True}).json["id"]
    response = launch(rep, cid, start_date="2026-11-25", people=[
        {"email": "ny@corp.test", "timezone": "America/New_York"},
        {"email": "paris@corp.test"}])
    ny, paris = (e["id"] for e in response.json["enrollments"])
    assert rep.get(f"/api/v1/enrollments/{ny}").json["steps"][0]["due_at"] == (
        "2026-11-25T14:30:00Z")  # 09:30 in New York
    assert rep.get(f"/api/v1/enrollments/{paris}").json["steps"][0]["due_at"] == (
        "2026-11-25T08:30:00Z")  # no zone known: the campaign's


def test_launch_records_feed_events(rep: Actor, session: Session) -> None:
    cid = create(rep).json["id"]
    launch(rep, cid, people=[{"email": "a@corp.test"}, {"email": "b@corp.test"}])
    types = [e["type"] for e in rep.get("/api/v1/feed").json["events"]]
    assert types == ["campaign_launched"]
    assert count(session, Event) == 1
    last = rep.get("/api/v1/feed").json["events"][-1]
    assert (last["enrolled"], last["skipped"]) == (2, 0)
    assert (last["first_step"], last["first_due"]) == ("email", "2026-11-24T08:30:00Z")
    after = rep.get(f"/api/v1/feed?after={last['id']}").json["events"]
    assert after == []


def test_a_past_start_date_is_refused_naming_today_in_the_one_date_style(rep: Actor) -> None:
    cid = create(rep).json["id"]
    response = launch(rep, cid, people=[{"email": "a@b.test"}], start_date="2026-11-01")
    [error] = [e for e in response.json["errors"] if e["field"] == "start_date"]
    assert error["message"].startswith("must not be before today (Tue, 24 Nov 2026 in "), error
