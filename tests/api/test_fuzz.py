"""Fuzz every operation of /api/v1 from its own OpenAPI document (schemathesis).

Requests are generated from the document the server serves, sent to the app as an admin and
as a plain rep of an organisation that has a campaign, people, tasks and a send, on both
databases. Every answer must be documented (status code, content type, body schema) and none
may be a server error. Bounded and derandomized: the same cases run every time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_campaigns import create, email_step, six_steps
from tests.conftest import Actor, make_actor

# Cases per operation and caller: enough to reach every field, small enough for the suite.
MAX_EXAMPLES = 8
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance)
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


def _seed(rep: Actor) -> None:
    """Rows for generated ids to land on: a campaign with tasks and a send, a template."""
    steps = six_steps()
    steps[0] = email_step(1, "manual_task")
    cid = create(rep, steps=steps).get_json()["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch",
             json={"people": [{"email": f"p{i}@corp.test"} for i in range(3)]})
    task = rep.get("/api/v1/tasks").get_json()["tasks"][0]
    rep.post(f"/api/v1/tasks/{task['id']}/send", json={"subject": "s", "body_html": "<p>b</p>"})
    rep.post("/api/v1/templates", json={"name": "T", "body_html": "<p>x</p>"})
    rep.post("/api/v1/suppressions", json={"email": "gone@corp.test"})
    rep.post("/api/v1/snippets", json={"name": "S", "body_html": "<p>s</p>", "shared": True})
    rep.post("/api/v1/attachments", data={"file": (io.BytesIO(b"x"), "x.txt", "text/plain")},
             content_type="multipart/form-data")


def _runner(operation: Any, headers: dict[str, str], counter: list[int]) -> Callable[[], None]:
    def check(case: Any) -> None:
        counter[0] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    run: Callable[[], None] = FUZZ(given(case=operation.as_strategy())(check))
    return run


def _fuzz(app: Flask, actor: Actor) -> tuple[int, int, list[str]]:
    """Every operation, MAX_EXAMPLES cases each; returns (operations, cases, failures)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {actor.token}"}
    operations, counter, failures = 0, [0], []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _runner(operation, headers, counter)()
        except Exception as exc:  # every failing operation is reported, not only the first
            failures.append(f"{operation.label}: {exc}")
        operations += 1
    return operations, counter[0], failures


def test_fuzz_the_api_as_a_rep_and_as_an_admin(app: Flask, rep: Actor) -> None:
    _seed(rep)
    runtime = app.extensions["addin"]
    admin = make_actor(runtime, rep.client, "boss@acme.test", admin=True)
    for actor in (rep, admin):
        operations, cases, failures = _fuzz(app, actor)
        print(f"schemathesis as {actor.email}: {operations} operations, {cases} cases, "
              f"{len(failures)} failures")
        assert failures == []
        assert operations >= 39 and cases >= operations

