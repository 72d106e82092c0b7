"""What a running app holds: settings, the database, the clock. One object, made by create_app
(or by a worker), so that nothing is read from the environment at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from addin_server.config import Settings
from addin_server.db import make_engine, make_session_factory, utcnow

if TYPE_CHECKING:
    from redis import Redis


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    _redis: Redis | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> Runtime:
        """Every process (web, worker, dispatcher, CLI) starts here: secrets are checked first,
        so a missing SECRET_KEY or ENCRYPTION_KEYS stops it (ConfigError) before anything runs."""
        settings = settings.require_secrets()
        engine = make_engine(settings.effective_database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine),
                   clock=clock)

    def redis(self) -> Redis:
        if self._redis is None:
            from redis import Redis

            self._redis = Redis.from_url(self.settings.redis_url)
        return self._redis

    def now(self) -> datetime:
        return self.clock()


def runtime() -> Runtime:
    """The Runtime of the Flask app in context (a request, a CLI command): create_app keeps it
    in `app.extensions["addin"]`."""
    rt = current_app.extensions["addin"]
    assert isinstance(rt, Runtime)
    return rt
