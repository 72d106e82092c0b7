"""The `addin-server` commands, run through Flask's CLI runner and as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from sqlalchemy import inspect

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.config import Settings
from addin_server.db import make_engine
from addin_server.runtime import Runtime


def cli_app(runtime: Runtime) -> Flask:
    app = create_app(runtime=runtime)
    register_commands(app)
    return app


def test_create_rep_prints_a_working_token_last(runtime: Runtime) -> None:
    app = cli_app(runtime)
    result = app.test_cli_runner().invoke(
        args=["create-rep", "Ann@Acme.test", "--org", "Acme", "--timezone", "Europe/Paris",
              "--admin"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("as_")
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["email"] == "ann@acme.test"
    assert me.json["is_admin"] is True
    assert me.json["organisation"]["name"] == "Acme"
    with runtime.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert token not in stored and len(stored) == 64
    again = app.test_cli_runner().invoke(args=["create-rep", "ann@acme.test", "--org", "Acme"])
    assert again.exit_code != 0
    assert "exists already" in again.output


def test_create_rep_refuses_bad_input(runtime: Runtime) -> None:
    runner = cli_app(runtime).test_cli_runner()
    bad_tz = runner.invoke(args=["create-rep", "a@b.test", "--org", "X", "--timezone", "Moon"])
    assert bad_tz.exit_code == 2
    assert "unknown time zone" in bad_tz.output
    bad_email = runner.invoke(args=["create-rep", "nope", "--org", "X"])
    assert bad_email.exit_code == 2


def test_init_db_creates_the_schema_in_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "", "DEV_MODE": "1"}
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = str(root)
    done = subprocess.run([sys.executable, "-m", "addin_server", "init-db"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "database ready" in done.stdout
    url = Settings(instance_path=str(tmp_path)).effective_database_url
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"campaigns", "steps", "enrollments", "sends", "tasks", "events"} <= tables
    rerun = subprocess.run([sys.executable, "-m", "addin_server", "init-db"], env=env,
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr


def test_org_domains_and_set_admin(runtime: Runtime) -> None:
    from addin_server.models import Rep

    app = cli_app(runtime)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-rep", "ann@acme.test", "--org", "Acme"]).exit_code == 0
    assert runner.invoke(args=["org-domains", "Acme"]).output.strip() == "acme.test"
    out = runner.invoke(args=["org-domains", "Acme", "acme.test", "@Acme.co.uk"]).output
    assert out.strip() == "acme.co.uk, acme.test"
    assert runner.invoke(args=["org-domains", "Nope"]).exit_code != 0
    result = runner.invoke(args=["set-admin", "ann@acme.test"])
    assert result.exit_code == 0, result.output
    with runtime.sessions() as s:
        rep = s.query(Rep).filter_by(email="ann@acme.test").one()
        assert rep.is_admin and rep.session_version == 2
