"""`addin-server seed-demo`, `dispatch --once`, `worker --burst` and `why`, through Flask's CLI
runner on the test database and a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from rq import Queue

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.config import Settings
from addin_server.runtime import Runtime
from tests.conftest import FrozenClock


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cli_app(runtime: Runtime) -> Iterator[Flask]:
    app = create_app(runtime=runtime)
    register_commands(app)
    yield app
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def run(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_seed_demo_then_dispatch_worker_and_why(cli_app: Flask, clock: FrozenClock) -> None:
    out = run(cli_app, "seed-demo")
    token = out.strip().splitlines()[-1]
    assert token.startswith("as_")
    assert "launched on 3 people" in out
    assert "promoted 3," in run(cli_app, "dispatch", "--once")
    assert "promoted 0," in run(cli_app, "dispatch", "--once")  # queued once
    run(cli_app, "worker", "--burst")
    client = cli_app.test_client()
    messages = client.get("/api/v1/mailbox/messages",
                          headers={"Authorization": f"Bearer {token}"}).json["messages"]
    assert sorted(m["to"] for m in messages) == [
        "ada@example.test", "grace@example.test", "linus@example.test"]
    why = run(cli_app, "why", "1")
    assert "state: sent" in why
    assert "queued -> sending" in why and "sending -> sent" in why
    assert "attempts: 1" in why
    # The second email is planned for the next day, at the same time, as a reply.
    why4 = run(cli_app, "why", "4")
    assert "state: scheduled" in why4 and "reason: not due yet" in why4
    assert "2026-11-25 08:00:00 UTC" in why4
    clock.advance(days=1)
    run(cli_app, "dispatch", "--once")
    run(cli_app, "worker", "--burst")
    messages = client.get("/api/v1/mailbox/messages",
                          headers={"Authorization": f"Bearer {token}"}).json["messages"]
    replies = [m for m in messages if m["subject"].startswith("Re: ")]
    assert len(replies) == 3 and all("In-Reply-To" in m["headers"] for m in replies)
    # A second seed-demo only issues a new token.
    again = run(cli_app, "seed-demo")
    assert "exists already" in again and again.strip().splitlines()[-1] != token
    result = cli_app.test_cli_runner().invoke(args=["why", "999"])
    assert result.exit_code != 0 and "no send 999" in result.output
