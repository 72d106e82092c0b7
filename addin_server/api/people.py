"""REST API of a person's other addresses: a reply from any of them counts as the person's."""

from __future__ import annotations

from flask import Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.accounts import may_see_person
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.models import Person, PersonAddress
from addin_server.validation import Errors, parse_email
from addin_server.web.common import ApiError, db, not_found, now

bp = api_blueprint("api_people", __name__)


def _person(person_id: int) -> Person:
    person = db().get(Person, person_id)
    if person is None or not may_see_person(current_rep(), person):
        not_found("person_id")  # another rep's person is as unknown as another org's
    return person


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
