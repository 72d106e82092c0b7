"""REST API of people: the list (search, paging, true total), one person with every campaign,
the thread and why they were stopped or held; changing their fields; unsubscribing them; their
other addresses (a reply from any of them counts as the person's); and, in DEV_MODE, a simulated
answer from them.

Who may do what (accounts.may_see_person): the owner (the rep who first enrolled the person)
and admins see and change the person; a rep who has the person in one of their own campaigns
without owning them sees the page read-only (their campaigns' actions still work).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select

from addin_server.accounts import may_see_person, visible_people
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import person_json, steps_json
from addin_server.enrollments import person as person_view
from addin_server.enrollments.people import parse_field_changes
from addin_server.inbound.simulate import CannotSimulate, simulate_inbound
from addin_server.inbound.unsubscribe import unsubscribe
from addin_server.models import Enrollment, Person, PersonAddress, Rep, Send
from addin_server.validation import Errors, get_str, parse_email, parse_timezone
from addin_server.web.common import ApiError, db, iso, not_found, now, runtime

bp = api_blueprint("api_people", __name__)

NAME_KEYS = ("first_name", "last_name", "company", "title")


def _person(person_id: int) -> Person:
    """A person the caller may change (owner or admin); anyone else's is a 404."""
    person = db().get(Person, person_id)
    if person is None or not may_see_person(current_rep(), person):
        not_found("person_id")  # another rep's person is as unknown as another org's
    return person


def viewable_person(person_id: int, rep: Rep) -> tuple[Person, bool]:
    """A person `rep` may see, and whether they may change it: the owner and admins change
    it; a rep with the person in one of their campaigns sees it read-only. Else a 404."""
    person = db().get(Person, person_id)
    if person is None or person.org_id != rep.org_id:
        not_found("person_id")
    if may_see_person(rep, person):
        return person, True
    theirs = db().scalar(select(Enrollment.id).where(Enrollment.person_id == person.id,
                                                     Enrollment.rep_id == rep.id).limit(1))
    if theirs is None:
        not_found("person_id")
    return person, False


def _row_json(person: Person) -> dict[str, Any]:
    return {**person_json(person), "owner_rep_id": person.owner_rep_id,
            "bounced": person.bounced_at is not None}


@bp.get("/people")
def list_people() -> ResponseReturnValue:
    """The people the caller may see, by id; `q` searches address, names and company."""
    limit, offset = clamped_page(100)
    q = request.args.get("q", "").strip().lower()[:200]
    where = [visible_people(current_rep())]
    if q:
        where.append(or_(*(func.lower(col).contains(q, autoescape=True) for col in (
            Person.email, Person.first_name, Person.last_name, Person.company))))
    total = db().scalar(select(func.count()).select_from(Person).where(*where)) or 0
    rows = db().scalars(select(Person).where(*where).order_by(Person.id)
                        .limit(limit).offset(offset))
    return jsonify({"people": [_row_json(p) for p in rows], "total": total, "limit": limit,
                    "offset": offset})


def may_change(enrollment: Enrollment, rep: Rep) -> bool:
    """Pause, resume, stop: the enrollment's rep, or an admin (api/common.owned)."""
    return rep.is_admin or enrollment.rep_id == rep.id


def person_detail(person: Person, editable: bool, rep: Rep) -> dict[str, Any]:
    """The person's page as JSON (the web page renders the same)."""
    session = db()
    tz = ZoneInfo(rep.timezone or "UTC")
    enrollments = person_view.enrollments_of(session, person)
    standing = person_view.standing(
        person, [person_view.facts(e) for e in enrollments], tz,
        person_view.out_of_office_campaign(session, person))
    addresses = session.scalars(select(PersonAddress.email).where(
        PersonAddress.person_id == person.id).order_by(PersonAddress.email))
    return {
        **_row_json(person),
        "editable": editable,
        "created_at": iso(person.created_at),
        "addresses": list(addresses),
        "standing": {"state": standing.state, "text": standing.text},
        "enrollments": [{
            "id": e.id, "campaign_id": e.campaign_id, "campaign_name": e.campaign.name,
            "status": e.status.value, "start_date": e.start_date.isoformat(),
            "stop_reason": e.stop_reason, "paused_until": iso(e.paused_until),
            "may_change": may_change(e, rep), "steps": steps_json(e),
        } for e in enrollments],
        "thread": [{
            "at": iso(i.at), "direction": i.direction, "kind": i.kind, "subject": i.subject,
            "text": i.text, "from": i.from_addr, "to": i.to_addr, "campaign_id": i.campaign_id,
            "campaign_name": i.campaign_name, "send_id": i.send_id,
        } for i in person_view.thread(session, person)],
        "dev_mode": runtime().settings.dev_mode,
    }


@bp.get("/people/<int:person_id>")
def get_person(person_id: int) -> ResponseReturnValue:
    person, editable = viewable_person(person_id, current_rep())
    return jsonify(person_detail(person, editable, current_rep()))


@bp.patch("/people/<int:person_id>")
def patch_person(person_id: int) -> ResponseReturnValue:
    """Change names, company, title, time zone and custom fields (null removes one)."""
    person, editable = viewable_person(person_id, current_rep())
    data = checked_body(bodies.PersonPatch)
    if not editable:
        raise ApiError(403, "only the person's owner or an admin may change them", "person_id")
    errors = Errors()
    changes: dict[str, Any] = {}
    for key in NAME_KEYS:
        if data.get(key) is not None:
            changes[key] = get_str(data, key, key, errors, max_len=200, header=True).strip()
    if "timezone" in data:
        raw = data.get("timezone")
        changes["timezone"] = (None if raw in (None, "")
                               else parse_timezone(raw, "timezone", errors))
    fields = (parse_field_changes(data.get("fields"), "fields", errors)
              if data.get("fields") is not None else {})
    errors.raise_if_any()
    for key, value in changes.items():
        setattr(person, key, value)
    if fields:
        merged = dict(person.fields or {})
        for name, value in fields.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        person.fields = merged  # a new dict: JSON columns do not see changes in place
    db().flush()
    return jsonify(person_detail(person, editable, current_rep()))


@bp.post("/people/<int:person_id>/unsubscribe")
def unsubscribe_person(person_id: int) -> ResponseReturnValue:
    """The rep unsubscribes the person: suppressed, every live campaign of theirs ends."""
    person, editable = viewable_person(person_id, current_rep())
    if not editable:
        raise ApiError(403, "only the person's owner or an admin may unsubscribe them",
                       "person_id")
    unsubscribe(db(), person.org_id, person.email, now(), source="rep")
    db().flush()
    return jsonify(person_detail(person, editable, current_rep()))


@bp.post("/people/<int:person_id>/simulate")
def simulate(person_id: int) -> ResponseReturnValue:
    """DEV_MODE only: the person replies to, bounces or is out of office for one of our emails
    sent from the local development mailbox, through the real inbound path."""
    if not runtime().settings.dev_mode:
        not_found()  # outside DEV_MODE the endpoint does not exist
    person, _ = viewable_person(person_id, current_rep())
    data = checked_body(bodies.SimulateIn)
    send = db().get(Send, data["send_id"])
    enrollment = db().get(Enrollment, send.enrollment_id) if send else None
    if (enrollment is None or enrollment.person_id != person.id
            or not may_change(enrollment, current_rep())):
        not_found("send_id")
    # The message is delivered and polled in their own transactions, as a mailbox and the
    # poll job would: this request's (read-only so far) must not hold the database meanwhile.
    db().commit()
    try:
        outcome = simulate_inbound(runtime(), data["kind"], data["send_id"])
    except CannotSimulate as exc:
        raise ApiError(409, str(exc), "send_id") from exc
    return jsonify({"kind": outcome.kind, "enrollment_id": outcome.enrollment_id,
                    "action": outcome.action})


# --- other addresses --------------------------------------------------------------------------


def _addresses(person: Person) -> Response:
    rows = db().scalars(select(PersonAddress.email).where(
        PersonAddress.person_id == person.id).order_by(PersonAddress.email))
    return jsonify({"person_id": person.id, "email": person.email, "addresses": list(rows)})


@bp.get("/people/<int:person_id>/addresses")
def list_addresses(person_id: int) -> ResponseReturnValue:
    return _addresses(_person(person_id))


@bp.post("/people/<int:person_id>/addresses")
def add_address(person_id: int) -> ResponseReturnValue:
    person = _person(person_id)
    data = checked_body(bodies.PersonAddressIn)
    errors = Errors()
    email = parse_email(data.get("email"), "email", errors)
    errors.raise_if_any()
    assert email is not None
    session = db()
    if email == person.email:
        return _addresses(person)
    other = session.scalar(select(Person.id).where(Person.org_id == person.org_id,
                                                   Person.email == email))
    taken = session.scalar(select(PersonAddress.person_id).where(
        PersonAddress.org_id == person.org_id, PersonAddress.email == email))
    if other is not None or (taken is not None and taken != person.id):
        raise ApiError(409, "this address belongs to another person", "email")
    if taken is None:
        session.add(PersonAddress(org_id=person.org_id, person_id=person.id, email=email,
                                  created_at=now()))
        session.flush()
    return _addresses(person), 201


@bp.delete("/people/<int:person_id>/addresses/<email>")
def remove_address(person_id: int, email: str) -> ResponseReturnValue:
    person = _person(person_id)
    row = db().scalar(select(PersonAddress).where(PersonAddress.person_id == person.id,
                                                  PersonAddress.email == email.lower()))
    if row is None:
        not_found("email")
    db().delete(row)
    return _addresses(person)
