"""Bad input is a 4xx JSON error naming the field, never a 500, and nothing is written.

Each case here was a 500 or a wrong acceptance found by probing the API from outside, on
PostgreSQL (32-bit ids, no NUL in text) and SQLite (64-bit ids, stores anything)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.models import Campaign, Enrollment, Person, Template
from tests.api.test_campaigns import create, email_step, six_steps
from tests.conftest import Actor, make_actor
from tests.fakes.server import serve

HUGE_IDS = [2**31, 2**63, 2**64, 10**30]


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.get_json()["errors"]]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _int_routes(app: Flask) -> list[tuple[str, str, str]]:
    """Every route with an integer in its path: (url with {} for the ids, method, id name)."""
    routes = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items()
                if type(conv).__name__.lower().startswith(("int", "id"))]
        if not ints:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", "{" + name + "}").replace(f"<{name}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((url, method, ints[0]))
    return routes


def test_every_int_route_refuses_huge_ids_with_a_json_404(app: Flask, rep: Actor) -> None:
    routes = _int_routes(app)
    assert len(routes) > 25
    for url, method, name in routes:
        for big in HUGE_IDS:
            # Every id the route names (snippet_id, attachment_id, ... as resources come).
            filled = url.format(**{n: big for n in re.findall(r"\{(\w+)\}", url)})
            response = rep.client.open(filled, method=method, headers=rep.headers, json={})
            assert response.status_code == 404, (method, filled, response.status_code)
            if filled.startswith("/api/"):
                assert _fields(response) == [name], (method, filled)


def test_string_path_values_refuse_nul(rep: Actor) -> None:
    admin = make_actor(rep_runtime(rep), rep.client, "boss@acme.test", admin=True)
    for url in ("/api/v1/suppressions/a%00b@x.test", "/api/v1/blocked-domains/x%00.test"):
        response = admin.delete(url)
        assert response.status_code == 404, url
        assert response.get_json()["errors"], url


def rep_runtime(actor: Actor) -> Any:
    app = actor.client.application
    return app.extensions["addin"]


@pytest.mark.parametrize("big", [2**31, 2**63])
def test_step_template_id_out_of_range_is_422(rep: Actor, session: Session, big: int) -> None:
    response = create(rep, steps=[{"day": 1, "type": "email", "send_option": "manual_task",
                                   "subject": "Hi", "template_id": big}])
    assert response.status_code == 422
    assert "steps[0].template_id" in _fields(response)
    preview = rep.post("/api/v1/preview", json={"template_id": big})
    assert preview.status_code == 422 and _fields(preview) == ["template_id"]
    assert _count(session, Campaign) == 0


@pytest.mark.parametrize("query", ["limit=-1", "offset=9223372036854775808",
                                   "limit=9223372036854775808", "offset=-5&limit=0"])
@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/sends"])
def test_clamped_paging_never_fails(rep: Actor, path: str, query: str) -> None:
    response = rep.get(f"{path}?{query}")
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("query,field", [("limit=-1", "limit"), ("limit=0", "limit"),
                                         ("offset=9223372036854775808", "offset"),
                                         ("offset=-1", "offset")])
def test_checked_paging_names_the_field(rep: Actor, query: str, field: str) -> None:
    response = rep.get(f"/api/v1/suppressions?{query}")
    assert response.status_code == 422
    assert _fields(response) == [field]


@pytest.mark.parametrize("query", ["after=9223372036854775808", "after=-1", "limit=-1",
                                   "after=99999999999999999999999"])
def test_feed_paging_never_fails(rep: Actor, query: str) -> None:
    response = rep.get(f"/api/v1/feed?{query}")
    assert response.status_code == 200
    assert response.get_json() == {"events": []}


def test_limit_below_zero_does_not_list_everything(rep: Actor) -> None:
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch",
             json={"people": [{"email": f"p{i}@corp.test"} for i in range(3)]})
    assert len(rep.get("/api/v1/tasks?limit=-1").get_json()["tasks"]) == 1
    assert len(rep.get("/api/v1/mailbox/messages?limit=-1").get_json()["messages"]) <= 1


@pytest.mark.parametrize("tz", ["America", "Europe", "posix", "right", "A" * 300,
                                "Europe/Paris\n", "../etc/passwd", "UTC\x00"])
def test_time_zone_must_be_a_zone(rep: Actor, session: Session, tz: str) -> None:
    response = create(rep, timezone=tz)
    assert response.status_code == 422
    assert "timezone" in _fields(response)
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    launch = rep.post(f"/api/v1/campaigns/{cid}/launch",
                      json={"people": [{"email": "a@corp.test", "timezone": tz}]})
    assert launch.status_code == 422
    assert _fields(launch) == ["people[0].timezone"]
    assert _count(session, Person) == 0


@pytest.mark.parametrize("bad,field", [("a\x00b", "name"), ("\ud800", "name"),
                                        ("x\udfffy", "name")])
def test_nul_and_lone_surrogates_are_refused_everywhere(rep: Actor, session: Session,
                                                         bad: str, field: str) -> None:
    body = json.dumps({"name": bad, "subject": "s", "body_html": "<p>x</p>"})
    response = rep.post("/api/v1/templates", data=body, content_type="application/json")
    assert response.status_code == 422
    assert _fields(response) == [field]
    steps = six_steps()
    steps[2]["instructions"] = bad
    nested = create(rep, steps=steps)
    assert nested.status_code == 422
    assert _fields(nested) == ["steps[2].instructions"]
    key = rep.post("/api/v1/templates", data=json.dumps({"name": "n", "body_html": "x",
                                                         bad: 1}),
                   content_type="application/json")
    assert key.status_code == 422
    assert _count(session, Template) == 0 and _count(session, Campaign) == 0


def test_nul_in_a_csv_is_refused(rep: Actor, session: Session) -> None:
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    response = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        data=b"email,company\r\na@corp.test,Ac\x00me\r\n",
                        content_type="text/csv")
    assert response.status_code == 422
    assert _fields(response) == ["csv"]
    assert _count(session, Person) == 0


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
def test_deeply_nested_json_is_a_400(rep: Actor, depth: int) -> None:
    response = rep.post("/api/v1/templates", data="[" * depth + "]" * depth,
                        content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["errors"]


def test_huge_csv_cell_is_refused(rep: Actor, session: Session) -> None:
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    text = "email,note\r\na@corp.test," + "x" * 140_000 + "\r\n"
    response = rep.post(f"/api/v1/campaigns/{cid}/launch", data=text.encode(),
                        content_type="text/csv")
    assert response.status_code == 422
    assert _fields(response) == ["csv"]
    assert _count(session, Person) == 0


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59+00:00",
                                   "0001-01-01T00:00:00+01:00", "2300-01-01T09:00:00Z"])
def test_instants_far_away_are_422(rep: Actor, session: Session, value: str) -> None:
    steps = [email_step(1, "choose_at_launch")]
    cid = create(rep, steps=steps).get_json()["id"]
    response = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test"}], "first_send_at": value})
    assert response.status_code == 422
    assert _fields(response) == ["first_send_at"]
    assert _count(session, Enrollment) == 0


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2300-06-01"])
def test_start_date_is_bounded(rep: Actor, session: Session, value: str) -> None:
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    response = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test"}], "start_date": value})
    assert response.status_code == 422
    assert _fields(response) == ["start_date"]
    assert _count(session, Enrollment) == 0


def test_task_send_at_far_away_is_422(rep: Actor) -> None:
    cid = create(rep, steps=[email_step(1, "manual_task")]).get_json()["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [{"email": "a@corp.test"}]})
    task = rep.get("/api/v1/tasks").get_json()["tasks"][0]
    response = rep.post(f"/api/v1/tasks/{task['id']}/send",
                        json={"subject": "s", "body_html": "<p>b</p>",
                              "send_at": "9999-12-31T23:00:00-05:00"})
    assert response.status_code == 422
    assert _fields(response) == ["send_at"]


@pytest.mark.parametrize("value", ["09:30\n", "09:30\r\n", "9:30", "09:30 "])
def test_send_time_must_be_exactly_hh_mm(rep: Actor, value: str) -> None:
    response = create(rep, steps=[email_step(1, "fixed_time", send_time=value)])
    assert response.status_code == 422
    assert _fields(response) == ["steps[0].send_time"]


def test_chunked_body_over_the_limit_is_413(app: Flask, rep: Actor) -> None:
    """A body without Content-Length (Transfer-Encoding: chunked) through a real HTTP server."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"name": "n", "body_html": "x" * (limit + 10)}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    with serve(app) as base:
        response = requests.post(f"{base}/api/v1/templates", data=chunks(), timeout=30,
                                 headers={**rep.headers, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"]


def test_graph_validation_echo_is_not_sniffed(client: Any) -> None:
    response = client.post("/push/graph?validationToken=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "text/plain"
