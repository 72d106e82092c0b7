"""Fixtures: a real database per test (SQLite and PostgreSQL), a frozen clock, the app.

Every test that takes `runtime` (or `app`, `client`, `session`) runs once on SQLite and once on
PostgreSQL. PostgreSQL tests use a schema of their own per pytest run (so that parallel runs on
one server do not meet), migrated once, and truncated before each test. SQLite tests copy a
migrated file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from addin_server import create_app
from addin_server.accounts import create_rep, issue_token
from addin_server.config import Settings
from addin_server.db import Base, make_engine
from addin_server.migrate import upgrade
from addin_server.models import Rep
from addin_server.runtime import Runtime
from tests.fakes.fixtures import (  # noqa: F401  (fixtures)
    fake_tls,
    gmail_runtime,
    google_fake,
    graph_runtime,
    microsoft_fake,
    smtp_fake,
)

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A fixed Fernet key for the test settings (outside DEV_MODE a runtime needs one).
TEST_ENCRYPTION_KEY = "0Ew4cM5PHqkKxwBXGMgMh6ZV0yxqW4Ml5tkDw2yrI5Y="
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@dataclass
class FrozenClock:
    """Time in tests is injected, never slept on."""

    at: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at

    def set(self, when: datetime) -> None:
        self.at = when


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_schema_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        instance_path=str(tmp_path / "instance"),
        secret_key="test-secret",
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        public_base_url="https://campaigns.example.test",
        # The sender authentication check reads DNS: never the network in tests.
        dns_txt_resolver="tests.fakes.dns:txt",
    )


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings, clock=clock)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    s = runtime.sessions()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    application = create_app(runtime=runtime)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Actor:
    """A rep with an API token, and a client that sends it."""

    rep_id: int
    email: str
    token: str
    client: FlaskClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.headers, **kw)


def make_actor(
    runtime: Runtime,
    client: FlaskClient,
    email: str,
    org: str = "Acme",
    *,
    admin: bool = False,
    timezone: str = "Europe/Paris",
    local_mailbox: bool = True,
) -> Actor:
    with runtime.sessions.begin() as s:
        rep = create_rep(s, email=email, org_name=org, now=runtime.now(), timezone=timezone,
                         name=email.split("@")[0].title(), admin=admin,
                         local_mailbox=local_mailbox)
        token = issue_token(s, rep, runtime.now())
        rep_id = rep.id
    return Actor(rep_id=rep_id, email=email, token=token, client=client)


@pytest.fixture
def rep(runtime: Runtime, client: FlaskClient) -> Actor:
    return make_actor(runtime, client, "ann@acme.test")


def load_rep(session: Session, actor: Actor) -> Rep:
    rep = session.get(Rep, actor.rep_id)
    assert rep is not None
    return rep
