"""addin_server: sales campaigns sent from the rep's own mailbox.

`create_app(settings=None)` is the application factory; it only runs register_* steps.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from addin_server.config import Settings
from addin_server.runtime import Runtime
from addin_server.workers.crm import install_crm_listener


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the Flask app. Settings come from the environment only when none are given."""
    if runtime is None:
        runtime = Runtime.from_settings(settings or Settings.from_env())
    settings = runtime.settings
    app = Flask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        JSON_SORT_KEYS=False,
    )
    app.extensions["addin"] = runtime
    install_crm_listener()  # the CRM sync rows a commit writes are enqueued after it

    from addin_server.web import register_web

    register_web(app)
    return app
