"""The OpenAPI document matches what the server does: every route documented, every response
of a real session valid against its schema, every status it answers with listed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, Response, request
from jsonschema import Draft202012Validator

from addin_server.api.openapi import document
from tests.api.test_campaigns import create, email_step, six_steps
from tests.conftest import Actor


def _template_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_nothing_else(app: Flask) -> None:
    doc = document("https://x.test")
    documented = {(p, m) for p, item in doc["paths"].items() for m in item
                  if m in {"get", "post", "patch", "put", "delete"}}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = _template_path(rule.rule[len("/api/v1"):])
        for method in rule.methods or ():
            if method in {"GET", "POST", "PATCH", "PUT", "DELETE"}:
                served.add((path, method.lower()))
    assert served == documented
    Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})


@pytest.fixture
def recorded(app: Flask) -> list[tuple[str, str, int, Any]]:
    seen: list[tuple[str, str, int, Any]] = []

    @app.after_request
    def _record(response: Response) -> Response:
        if request.url_rule is not None and request.path.startswith("/api/v1/"):
            seen.append((_template_path(request.url_rule.rule[len("/api/v1"):]),
                         request.method.lower(), response.status_code, response.get_json()))
        return response

    return seen


def test_real_responses_match_the_document(rep: Actor, recorded: list[Any]) -> None:
    steps = six_steps()
    steps[0] = email_step(1, "manual_task")
    cid = create(rep, steps=steps).json["id"]
    create(rep, steps=[email_step(1, "fixed_time")])  # 422
    rep.get("/api/v1/campaigns")
    rep.get(f"/api/v1/campaigns/{cid}")
    rep.get("/api/v1/campaigns/999999")  # 404
    rep.patch(f"/api/v1/campaigns/{cid}", json={"name": "New name"})
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test", "fields": {"n": 3}}]}).json
    rep.post(f"/api/v1/campaigns/{cid}/launch", data=b"email\r\nb@corp.test\r\n",
             content_type="text/csv")
    rep.get(f"/api/v1/campaigns/{cid}/enrollments")
    eid = launched["enrollments"][0]["id"]
    rep.get(f"/api/v1/enrollments/{eid}")
    task = rep.get("/api/v1/tasks?status=open").json["tasks"][0]
    rep.get(f"/api/v1/tasks/{task['id']}")
    rep.get(f"/api/v1/tasks/{task['id']}/compose")
    rep.post(f"/api/v1/tasks/{task['id']}/complete")
    rep.post(f"/api/v1/tasks/{task['id']}/skip")
    rep.post(f"/api/v1/enrollments/{eid}/pause")
    rep.post(f"/api/v1/enrollments/{eid}/resume")
    rep.post(f"/api/v1/enrollments/{eid}/stop")
    rep.post(f"/api/v1/enrollments/{eid}/resume")  # 409
    tpl = rep.post("/api/v1/templates", json={"name": "T", "subject": "S",
                                              "body_html": "<p>x</p>"}).json
    rep.get("/api/v1/templates")
    rep.get(f"/api/v1/templates/{tpl['id']}")
    rep.patch(f"/api/v1/templates/{tpl['id']}", json={"name": "T2"})
    rep.post("/api/v1/preview", json={"body_html": "<p>{{first_name}}</p>",
                                      "person": {"email": "z@corp.test"}})
    rep.get("/api/v1/feed")
    rep.get(f"/api/v1/campaigns/{cid}/report")
    rep.get(f"/api/v1/campaigns/{cid}/report?from=yesterday")  # 422
    rep.get("/api/v1/reports/mailboxes")
    rep.get("/api/v1/me")
    rep.client.get("/api/v1/me")  # 401
    doc = document("https://x.test")
    checked = 0
    for path, method, status, body in recorded:
        operation = doc["paths"][path][method]
        assert str(status) in operation["responses"], (path, method, status, body)
        response = operation["responses"][str(status)]
        if "$ref" in response:
            response = doc["components"]["responses"]["Errors"]
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(body)
        checked += 1
    assert checked == len(recorded) == 30
    statuses = {s for _, _, s, _ in recorded}
    assert {200, 201, 401, 404, 409, 422} <= statuses
