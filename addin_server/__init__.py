"""addin_server: sales campaigns sent from the rep's own mailbox.

`create_app(settings=None)` is the application factory: the configuration, the request hooks
(one database session per request, committed once; JSON errors under the APIs) and the one
list of blueprints.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from addin_server.addins.gmail import message as gmail_message
from addin_server.addins.gmail import routes as gmail
from addin_server.addins.gmail.tokens import GoogleTokenVerifier
from addin_server.addins.outlook import routes as outlook
from addin_server.addins.outlook.auth import TokenValidator
from addin_server.api import attachments as api_attachments
from addin_server.api import bounces as api_bounces
from addin_server.api import campaigns as api_campaigns
from addin_server.api import deliverability as api_deliverability
from addin_server.api import enrollments as api_enrollments
from addin_server.api import feed as api_feed
from addin_server.api import limits as api_limits
from addin_server.api import me as api_me
from addin_server.api import openapi as api_openapi
from addin_server.api import organisation as api_organisation
from addin_server.api import people as api_people
from addin_server.api import reports as api_reports
from addin_server.api import sends as api_sends
from addin_server.api import snippets as api_snippets
from addin_server.api import suppressions as api_suppressions
from addin_server.api import tasks as api_tasks
from addin_server.api import templates as api_templates
from addin_server.config import Settings
from addin_server.crypto import derive_key
from addin_server.runtime import Runtime
from addin_server.validation import FieldError, ValidationFailed
from addin_server.web import (
    connect_mailbox,
    pages,
    rep_settings,
    routing,
    salesforce,
    signin,
    unsubscribe,
    webhooks,
)
from addin_server.web.common import ApiError, errors_response, validation_response
from addin_server.web.headers import install_security_headers
from addin_server.workers.crm import install_crm_listener

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the Flask app. Settings come from the environment only when none are given."""
    if runtime is None:
        runtime = Runtime.from_settings(settings or Settings.from_env())
    settings = runtime.settings
    app = Flask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    app.url_rule_class = routing.NamedRule
    app.request_class = routing.BoundedRequest
    routing.install(app.url_map)  # before any blueprint adds a rule
    app.config.update(
        # Sessions and CSRF tokens: a key of their own, derived from SECRET_KEY (crypto.py).
        SECRET_KEY=derive_key(settings, "flask-session"),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        JSON_SORT_KEYS=False,
    )
    app.extensions["addin"] = runtime
    install_crm_listener()  # the CRM sync rows a commit writes are enqueued after it
    app.extensions["gmail_verifier"] = GoogleTokenVerifier(settings.google_certs_url,
                                                        ca_bundle=settings.google_ca_bundle)
    app.extensions["outlook_auth"] = TokenValidator(settings)
    signin.init_csrf(app)
    _install_request_hooks(app)
    install_security_headers(app, settings)
    for blueprint in (
        # The web app: sign-in, pages, mailbox and Salesforce connection, public endpoints.
        signin.bp,
        pages.bp,
        connect_mailbox.bp,
        rep_settings.bp,
        salesforce.bp,
        unsubscribe.bp,
        webhooks.bp,
        # The REST API under /api/v1 (api_openapi.bp serves its document, without a token).
        api_campaigns.bp,
        api_enrollments.bp,
        api_tasks.bp,
        api_reports.bp,
        api_sends.bp,
        api_templates.bp,
        api_snippets.bp,
        api_attachments.bp,
        api_feed.bp,
        api_me.bp,
        api_suppressions.bp,
        api_limits.bp,
        api_deliverability.bp,
        api_bounces.bp,
        api_people.bp,
        api_organisation.bp,
        api_openapi.bp,
        # The add-ins.
        gmail.bp,
        gmail_message.bp,
        outlook.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _install_request_hooks(app: Flask) -> None:
    app.after_request(_commit_before_reply)
    app.teardown_request(_close_session)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ValidationFailed, _validation)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)


def _commit_before_reply(response: Response) -> Response:
    # Commit before the response leaves, so that a client never sees an id that a failed
    # commit then loses. Teardown only closes.
    session = g.get("db")
    if session is not None and response.status_code < 400 and not g.get("rollback"):
        session.commit()
    return response


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is None:
        return
    try:
        if exc is None and not getattr(g, "rollback", False):
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/gmail/", "/outlook/api/"))


def _api_error(exc: ApiError) -> ResponseReturnValue:
    g.rollback = True
    return errors_response(exc.status, exc.errors)


def _validation(exc: ValidationFailed) -> ResponseReturnValue:
    g.rollback = True
    return validation_response(exc)


def _http(exc: HTTPException) -> ResponseReturnValue:
    g.rollback = True
    if not _wants_json():
        return exc
    message = {413: "the request is too large"}.get(exc.code or 0, exc.description or "")
    return errors_response(exc.code or 500, [FieldError(getattr(exc, "field", ""), message)])


def _unexpected(exc: Exception) -> ResponseReturnValue:
    g.rollback = True
    log.exception("unhandled error on %s %s", request.method, request.path)
    return errors_response(500, [FieldError("", "internal error")])
