"""Checks before anything is sent, and imports that forgive: warnings with the person and step,
rows left out by CSV line and column."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.config import Settings
from addin_server.models import Person
from tests.api.test_campaigns import create, email_step
from tests.conftest import Actor, make_actor
from tests.enrollments.test_launch import count
from tests.fakes.dns import fake_dns


@pytest.fixture
def dns_server() -> Iterator[str]:
    with fake_dns({"corp.test": "mx.corp.test", "acme.test": "mx.acme.test"}) as address:
        yield address


@pytest.fixture
def settings(settings: Settings, dns_server: str) -> Settings:
    return replace(settings, mx_nameservers=(dns_server,))


def warnings(response: object) -> list[tuple[str, int | None, str]]:
    body = response.json  # type: ignore[attr-defined]
    return sorted(((w["email"], w["step"], w["code"]) for w in body["warnings"]),
                  key=lambda w: (w[0], w[1] or 0, w[2]))


def test_warnings_name_the_person_and_the_step(rep: Actor) -> None:
    steps = [email_step(1, "fixed_time", send_time="09:30",
                        body_html="<p>Hi {{first_name}}, about {{favourite_tool}}</p>"),
             email_step(3, "fixed_time", send_time="09:30", subject="{{company}}")]
    cid = create(rep, steps=steps).json["id"]
    people = [{"email": "zoe@corp.test", "first_name": "Zoe", "company": "Corp",
               "fields": {"favourite_tool": "Excel"}},
              {"email": "sam@corp.test", "company": "Corp"},  # no first name, no tool
              {"email": "bob@acme.test", "first_name": "Bob", "company": "Acme",
               "fields": {"favourite_tool": "Vim"}},  # a colleague (the rep is at acme.test)
              {"email": "eve@nowhere.test", "first_name": "Eve", "company": "N",
               "fields": {"favourite_tool": "Vim"}}]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": people, "dry_run": True, "check_mx": True})
    assert got.status_code == 200, got.json
    assert warnings(got) == [("bob@acme.test", None, "colleague"),
                             ("eve@nowhere.test", None, "no_mx"),
                             ("sam@corp.test", 1, "missing_field")]
    (missing,) = [w for w in got.json["warnings"] if w["code"] == "missing_field"]
    assert "favourite_tool, first_name" in missing["message"]
    # No MX check unless asked.
    quiet = rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": people})
    assert quiet.status_code == 201
    assert ("eve@nowhere.test", None, "no_mx") not in warnings(quiet)


def test_active_in_another_campaign_is_enrolled_with_a_warning_or_skipped_as_the_campaign_says(
    rep: Actor,
) -> None:
    first = create(rep, name="First").json["id"]
    zoe = [{"email": "zoe@corp.test", "first_name": "Zoe"}]
    assert rep.post(f"/api/v1/campaigns/{first}/launch", json={"people": zoe}).status_code == 201
    second = create(rep, name="Second", settings={"skip_if_active_elsewhere": True}).json["id"]
    got = rep.post(f"/api/v1/campaigns/{second}/launch", json={"people": zoe})
    assert got.json["enrollments"] == []
    assert got.json["skipped"] == [{"email": "zoe@corp.test",
                                    "reason": "active in campaign 'First'"}]
    third = create(rep, name="Third").json["id"]
    got = rep.post(f"/api/v1/campaigns/{third}/launch", json={"people": zoe})
    assert len(got.json["enrollments"]) == 1
    assert warnings(got) == [("zoe@corp.test", None, "active_elsewhere")]


CSV = ("Email Address;Given Name;Notes\r\n"
       "zoe@corp.test;Zoe;ok\r\n"
       "not-an-email;Sam;bad\r\n"
       "\"amy@corp.test\";\"Amy\r\nLee\";multi-line\r\n"
       "bob@corp.test;Bob;ok\r\n")


def test_skip_invalid_enrols_the_valid_rows_and_names_each_bad_line(
    rep: Actor, session: Session
) -> None:
    cid = create(rep).json["id"]
    url = f"/api/v1/campaigns/{cid}/launch"
    # Without skip_invalid: all or nothing, every bad line named.
    refused = rep.post(url, data=CSV.encode(), content_type="text/csv")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == [
        "csv line 3, column Email Address", "csv line 4, column Given Name"]
    assert count(session, Person) == 0
    got = rep.post(url + '?skip_invalid=true&columns={"Notes":"ignore"}', data=CSV.encode(),
                   content_type="text/csv")
    assert got.status_code == 201, got.json
    assert [(b["line"], b["column"]) for b in got.json["invalid"]] == [
        (3, "Email Address"), (4, "Given Name")]
    assert got.json["columns"] == {"Email Address": "email", "Given Name": "first_name",
                                   "Notes": "ignore"}
    people = session.execute(select(Person.email, Person.first_name, Person.fields)
                             .order_by(Person.email)).all()
    session.rollback()
    assert people == [("bob@corp.test", "Bob", {}), ("zoe@corp.test", "Zoe", {})]


def test_columns_map_headers_in_a_json_csv(rep: Actor, session: Session) -> None:
    cid = create(rep).json["id"]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch", json={
        "csv": "Courriel,Prénom,Outil\nzoe@corp.test,Zoé,Excel\n",
        "columns": {"Courriel": "email", "Prénom": "first_name", "Outil": "favourite_tool"}})
    assert got.status_code == 201, got.json
    zoe = session.scalars(select(Person)).one()
    assert (zoe.first_name, zoe.fields) == ("Zoé", {"favourite_tool": "Excel"})
    session.rollback()


def test_other_org_does_not_count_as_active_elsewhere(runtime: object, client: object,
                                                      rep: Actor) -> None:
    other = make_actor(runtime, client, "kim@globex.test", org="Globex")  # type: ignore[arg-type]
    oc = create(other).json["id"]
    assert other.post(f"/api/v1/campaigns/{oc}/launch",
                      json={"people": [{"email": "zoe@corp.test"}]}).status_code == 201
    cid = create(rep).json["id"]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": [{"email": "zoe@corp.test", "first_name": "Zoe"}]})
    assert len(got.json["enrollments"]) == 1 and got.json["warnings"] == []
