"""Alembic, driven from code: `addin-server init-db` and the tests use the same path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from addin_server import row_counts

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Create or migrate the database to the newest schema."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        # Triggers are not written from the models: installed (or replaced) here, each time.
        row_counts.install(conn)


def make_revision(url: str, message: str) -> None:
    """Developers: write a new migration from the difference between models and database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
