"""The replies part's REST endpoints: documented, and real responses valid against the
document; a person's other addresses."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.api.openapi import document
from addin_server.models import Mailbox, Person
from addin_server.runtime import Runtime
from tests.api.test_openapi import recorded  # noqa: F401  (the fixture)
from tests.conftest import Actor, make_actor
from tests.support.replies import campaign, launch


def test_responses_match_the_document(
    rep: Actor, runtime: Runtime, client: FlaskClient, session: Session,
    recorded: list[Any],  # noqa: F811
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    launch(rep, campaign(rep), "bob@globex.test")
    person_id = session.scalar(select(Person.id).where(Person.email == "bob@globex.test"))
    box = session.scalar(select(Mailbox.id).where(Mailbox.rep_id == rep.rep_id))
    session.rollback()
    rep.post("/api/v1/suppressions", json={"email": "x@y.test", "note": "asked"})
    rep.post("/api/v1/suppressions", json={"email": "bad"})  # 422
    rep.get("/api/v1/suppressions")
    rep.delete("/api/v1/suppressions/x@y.test")  # 403
    admin.delete("/api/v1/suppressions/x@y.test")
    admin.delete("/api/v1/suppressions/x@y.test")  # 404
    admin.post("/api/v1/blocked-domains", json={"domain": "rival.test"})
    rep.get("/api/v1/blocked-domains")
    admin.delete("/api/v1/blocked-domains/rival.test")
    rep.get(f"/api/v1/mailboxes/{box}/limits")
    rep.patch(f"/api/v1/mailboxes/{box}/limits", json={"daily_cap": 100, "batch_size": 10,
                                                       "batch_wait_seconds": 600})
    rep.patch(f"/api/v1/mailboxes/{box}/limits", json={"daily_cap": 0})  # 422
    rep.get(f"/api/v1/mailboxes/{box}/forecast")
    admin.get("/api/v1/mailboxes/999999/forecast")  # 404
    rep.post(f"/api/v1/people/{person_id}/addresses", json={"email": "bob@home.test"})
    rep.get(f"/api/v1/people/{person_id}/addresses")
    rep.delete(f"/api/v1/people/{person_id}/addresses/bob@home.test")
    doc = document("https://x.test")
    checked = 0
    for path, method, status, body in recorded:
        if path.startswith(("/campaigns", "/enrollments")):
            continue  # documented and checked by tests/api/test_openapi.py
        operation = doc["paths"][path][method]
        assert str(status) in operation["responses"], (path, method, status, body)
        response = operation["responses"][str(status)]
        if "$ref" in response:
            response = doc["components"]["responses"]["Errors"]
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(body)
        checked += 1
    assert checked == 17
    assert {s for _, _, s, _ in recorded} >= {200, 201, 403, 404, 422}


def test_other_addresses_of_a_person(
    rep: Actor, runtime: Runtime, client: FlaskClient, session: Session
) -> None:
    outsider = make_actor(runtime, client, "eve@evil.test", org="Evil")
    launch(rep, campaign(rep), "bob@globex.test", "carol@globex.test")
    bob = session.scalar(select(Person.id).where(Person.email == "bob@globex.test"))
    session.rollback()
    url = f"/api/v1/people/{bob}/addresses"
    added = rep.post(url, json={"email": "Bob.Jones@Gmail.com"})
    assert added.status_code == 201
    assert added.json == {"person_id": bob, "email": "bob@globex.test",
                          "addresses": ["bob.jones@gmail.com"]}
    # Another person's address cannot become Bob's.
    assert rep.post(url, json={"email": "carol@globex.test"}).status_code == 409
    assert outsider.get(url).status_code == 404
    assert rep.delete(f"{url}/bob.jones@gmail.com").json["addresses"] == []
    assert rep.delete(f"{url}/bob.jones@gmail.com").status_code == 404
