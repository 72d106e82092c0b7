"""The dry run of a launch: nothing written, and a forecast the real launch then keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.models import Enrollment, Event, Mailbox, Person, Send
from tests.api.test_campaigns import create, email_step
from tests.conftest import Actor, FrozenClock

# Thu 25 March 2027, 08:00 in Paris (CET). Europe changes to summer time on Sun 28 March;
# Mon 29 March is Easter Monday, a public holiday in France.
NOW = datetime(2027, 3, 25, 7, 0, tzinfo=UTC)
SETTINGS = {"skip_weekends": True, "stop_on_reply": True, "remove_on_bounce": True,
            "holiday_countries": ["FR"],
            "sending_window": {"days": ["mon", "tue", "wed", "thu", "fri"],
                               "start": "08:00", "end": "18:00"}}


def people(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"email": f"p{i}-{tag}@corp.test", "first_name": f"P{i}"} for i in range(n)]


def counts(session: Session) -> tuple[int, ...]:
    out = tuple(session.scalar(select(func.count()).select_from(m)) or 0
                for m in (Person, Enrollment, Send, Event))
    session.rollback()
    return out


def setup(rep: Actor, session: Session, clock: FrozenClock) -> tuple[int, int]:
    clock.set(NOW)
    box = session.scalar(select(Mailbox.id).where(Mailbox.rep_id == rep.rep_id))
    session.rollback()
    assert rep.patch(f"/api/v1/mailboxes/{box}/limits",
                     json={"daily_cap": 10, "min_gap_seconds": 0}).status_code == 200
    steps = [email_step(1, "fixed_time", send_time="09:30"),
             email_step(2, "same_time_as_previous", reply_to_previous=True, subject="")]
    # Three people enrolled earlier in another campaign: their step 2 (not yet a row) counts.
    earlier = create(rep, name="Earlier", settings=SETTINGS, steps=steps).json["id"]
    assert rep.post(f"/api/v1/campaigns/{earlier}/launch",
                    json={"people": people(3, "old")}).status_code == 201
    return earlier, int(create(rep, settings=SETTINGS, steps=[
        *steps, {"day": 3, "type": "call", "instructions": "Call"}]).json["id"])


def test_dry_run_writes_nothing_and_the_launch_keeps_its_forecast(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    earlier, cid = setup(rep, session, clock)
    before = counts(session)
    dry = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": people(15, "new"), "dry_run": True})
    assert dry.status_code == 200, dry.json
    assert counts(session) == before
    assert dry.json["dry_run"] is True
    assert len(dry.json["enrollments"]) == 15 and dry.json["skipped"] == []
    fc = dry.json["forecast"]
    assert fc["queued_on_mailbox"] == 6  # the earlier three's step 1 and step 2
    s1, s2, s3 = fc["steps"]
    # Thu: the earlier three and 7 of ours fill the cap of 10 at 09:30 CET; the other 8 go
    # when the window opens on Fri (08:00 CET = 07:00Z).
    assert s1["days"] == [{"date": "2027-03-25", "count": 7}, {"date": "2027-03-26", "count": 8}]
    assert (s1["first"], s1["last"]) == ("2027-03-25T08:30:00Z", "2027-03-26T07:00:00Z")
    assert s1["moved_by"] == {"cap": 8}
    # Fri: our 8 at 08:00, then at 09:30 two of the earlier three's step 2 (not yet rows)
    # fill the cap; the weekend and Easter Monday pass; on Tue 30, summer time, 08:00 CEST
    # = 06:00Z: the earlier third, then 9 of ours; 6 on Wed.
    assert s2["days"] == [{"date": "2027-03-30", "count": 9}, {"date": "2027-03-31", "count": 6}]
    assert (s2["first"], s2["last"]) == ("2027-03-30T06:00:00Z", "2027-03-31T06:00:00Z")
    assert s2["moved_by"] == {"cap": 15}
    # The call on day 3: Mon 29 is a holiday, so Tue 30 for everyone.
    assert s3["kind"] == "task"
    assert s3["days"] == [{"date": "2027-03-30", "count": 15}]
    assert s3["moved_by"] == {"holiday": 15}
    planned = {p["email"]: p["steps"][0]["planned_at"] for p in fc["people"]}

    real = rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": people(15, "new")})
    assert real.status_code == 201, real.json
    rows = session.execute(select(Person.email, Send.planned_at, Send.due_at).join(
        Enrollment, Enrollment.id == Send.enrollment_id).join(
        Person, Person.id == Enrollment.person_id).where(Enrollment.campaign_id == cid)).all()
    session.rollback()
    assert len(rows) == 15
    for email, planned_at, _due in rows:
        assert planned_at.strftime("%Y-%m-%dT%H:%M:%SZ") == planned[email]
    again = rep.post(f"/api/v1/campaigns/{earlier}/launch",
                     json={"people": people(1, "x"), "dry_run": True}).json["forecast"]
    # Now the mailbox holds our 15 (step 1 rows, step 2 and the call still to come) too.
    assert again["queued_on_mailbox"] == 6 + 30
