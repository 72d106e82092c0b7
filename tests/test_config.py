"""Fail closed: outside DEV_MODE no process starts without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from addin_server import create_app
from addin_server.config import DEV_SECRET_KEY, ConfigError, Settings
from tests.conftest import TEST_ENCRYPTION_KEY

ROOT = Path(__file__).resolve().parents[1]


def test_create_app_refuses_without_secret_key(tmp_path: Path) -> None:
    settings = Settings(instance_path=str(tmp_path), encryption_keys=(TEST_ENCRYPTION_KEY,))
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(settings)


def test_create_app_refuses_the_development_key_outside_dev_mode(tmp_path: Path) -> None:
    settings = Settings(instance_path=str(tmp_path), secret_key=DEV_SECRET_KEY,
                        encryption_keys=(TEST_ENCRYPTION_KEY,))
    with pytest.raises(ConfigError, match="development key"):
        create_app(settings)


def test_create_app_refuses_without_encryption_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS is not set"):
        create_app(Settings(instance_path=str(tmp_path), secret_key="k" * 32))


def test_create_app_refuses_a_malformed_encryption_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        create_app(Settings(instance_path=str(tmp_path), secret_key="k" * 32,
                            encryption_keys=("not-a-key",)))


def test_dev_mode_runs_on_the_development_key(tmp_path: Path) -> None:
    from addin_server.crypto import derive_key

    app = create_app(Settings(instance_path=str(tmp_path), dev_mode=True))
    assert app.extensions["addin"].settings.secret_key == DEV_SECRET_KEY
    # Sessions are signed with the key derived from it, never with SECRET_KEY itself.
    assert app.config["SECRET_KEY"] == derive_key(app.extensions["addin"].settings,
                                                  "flask-session")


def test_from_env_has_no_built_in_key() -> None:
    assert Settings.from_env({}).secret_key == ""


@pytest.mark.parametrize("argv", [["addin-server", "init-db"], ["addin-server", "worker"],
                                  ["addin-server", "dispatch"]])
def test_every_process_stops_with_one_line_saying_what_to_set(
        tmp_path: Path, argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "ENCRYPTION_KEYS", "DEV_MODE"}}
    env["INSTANCE_PATH"] = str(tmp_path)
    code = f"import sys; from addin_server.cli import main; sys.argv = {argv!r}; main()"
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("addin-server: SECRET_KEY is not set")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "addin_server.sqlite3").exists()


def test_gunicorn_entry_point_stops_without_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "ENCRYPTION_KEYS", "DEV_MODE"}}
    env["INSTANCE_PATH"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import addin_server.wsgi"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr
