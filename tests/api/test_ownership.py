"""A rep sees and changes only their own people and templates; an admin, the organisation's
(accounts.may_see_person / may_see_template). Each leak the attack found, as a test."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.models import Person
from addin_server.runtime import Runtime
from tests.conftest import Actor, make_actor
from tests.support.sending import email_step, launch, make_campaign

ZOE = {"email": "zoe@corp.test", "first_name": "Zoe", "company": "Corp", "title": "CTO"}


@pytest.fixture
def reps(runtime: Runtime, client: FlaskClient) -> tuple[Actor, Actor, Actor]:
    """Bob owns Zoe and a template; Ann is another rep of Acme; Carl is Acme's admin."""
    bob = make_actor(runtime, client, "bob@acme.test")
    ann = make_actor(runtime, client, "ann@acme.test")
    carl = make_actor(runtime, client, "carl@acme.test", admin=True)
    launch(bob, make_campaign(bob, [email_step(1, send_option="manual_task", send_time=None)]),
           [ZOE])
    made = bob.post("/api/v1/templates", json={"name": "Bob's secret pitch", "subject": "Hi",
                                               "body_html": "<p>Hi {{first_name}}</p>"})
    assert made.status_code == 201, made.json
    return bob, ann, carl


def zoe(runtime: Runtime) -> Person:
    with runtime.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == "zoe@corp.test"))
        assert person is not None
        return person


def test_templates_are_the_reps_own(reps: tuple[Actor, Actor, Actor]) -> None:
    bob, ann, carl = reps
    names = [t["name"] for t in ann.get("/api/v1/templates").json["templates"]]
    assert names == []
    template_id = bob.get("/api/v1/templates").json["templates"][0]["id"]
    assert ann.get(f"/api/v1/templates/{template_id}").status_code == 404
    assert [t["name"] for t in carl.get("/api/v1/templates").json["templates"]] == [
        "Bob's secret pitch"]
    # Nor can a step of Ann's campaign use it.
    answer = ann.post("/api/v1/campaigns", json={
        "name": "x", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "manual_task",
                   "template_id": template_id}]})
    assert answer.status_code == 422
    assert answer.json["errors"][0]["field"] == "steps[0].template_id"


def test_preview_renders_only_the_reps_own_people(reps: tuple[Actor, Actor, Actor]) -> None:
    _bob, ann, carl = reps
    body = {"subject": "x", "body_html": "<p>{{company}} {{title}}</p>",
            "person_email": "zoe@corp.test"}
    refused = ann.post("/api/v1/preview", json=body)
    assert refused.status_code == 422 and "Corp" not in refused.get_data(as_text=True)
    assert refused.json["errors"][0]["field"] == "person_email"
    assert carl.post("/api/v1/preview", json=body).json["body_html"] == "<p>Corp CTO</p>"


def test_addresses_of_another_reps_person_are_404(
        reps: tuple[Actor, Actor, Actor], runtime: Runtime) -> None:
    bob, ann, carl = reps
    pid = zoe(runtime).id
    url = f"/api/v1/people/{pid}/addresses"
    assert ann.get(url).status_code == 404
    assert ann.post(url, json={"email": "ann-alias@evil.test"}).status_code == 404
    assert bob.post(url, json={"email": "zoe2@corp.test"}).status_code == 201
    assert ann.delete(f"{url}/zoe2@corp.test").status_code == 404
    assert carl.get(url).json["addresses"] == ["zoe2@corp.test"]


def test_another_reps_launch_skips_the_person_and_changes_nothing(
        reps: tuple[Actor, Actor, Actor], runtime: Runtime) -> None:
    bob, ann, carl = reps
    cid = make_campaign(ann, [email_step(1, send_option="manual_task", send_time=None)])
    answer = ann.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [
        {"email": "zoe@corp.test", "first_name": "Hacked", "company": "Evil", "title": "x"},
        {"email": "new@corp.test", "first_name": "New"}]})
    assert answer.status_code == 201, answer.json
    assert answer.json["skipped"] == [{"email": "zoe@corp.test",
                                       "reason": "another rep's person"}]
    person = zoe(runtime)
    assert (person.first_name, person.company, person.title) == ("Zoe", "Corp", "CTO")
    assert person.owner_rep_id == bob.rep_id
    # The owner (or an admin) updates the fields by launching again.
    cid2 = make_campaign(carl, [email_step(1, send_option="manual_task", send_time=None)])
    launch(carl, cid2, [{"email": "zoe@corp.test", "company": "Corp Ltd"}])
    assert zoe(runtime).company == "Corp Ltd"
    assert zoe(runtime).owner_rep_id == bob.rep_id


def test_a_skipped_person_is_not_changed(reps: tuple[Actor, Actor, Actor],
                                         runtime: Runtime) -> None:
    bob, _ann, _carl = reps
    cid = make_campaign(bob, [email_step(1, send_option="manual_task", send_time=None)])
    launch(bob, cid, [{"email": "zoe@corp.test"}])
    answer: Any = bob.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [
        {"email": "zoe@corp.test", "company": "Changed"}]})
    assert answer.json["skipped"][0]["reason"] == "already active in this campaign"
    assert zoe(runtime).company == "Corp"
