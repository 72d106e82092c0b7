"""Blueprints and the request lifecycle: one session per request, committed once."""

from __future__ import annotations

import logging

from flask import Flask, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from addin_server.validation import FieldError, ValidationFailed
from addin_server.web.common import ApiError, errors_response, validation_response

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/gmail/", "/outlook/api/"))


def register_web(app: Flask) -> None:
    @app.teardown_request
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

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        g.rollback = True
        return errors_response(exc.status, exc.errors)

    @app.errorhandler(ValidationFailed)
    def _validation(exc: ValidationFailed) -> ResponseReturnValue:
        g.rollback = True
        return validation_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        g.rollback = True
        if not _wants_json():
            return exc
        message = {413: "the request is too large"}.get(exc.code or 0, exc.description or "")
        return errors_response(exc.code or 500, [FieldError("", message)])

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        g.rollback = True
        log.exception("unhandled error on %s %s", request.method, request.path)
        return errors_response(500, [FieldError("", "internal error")])

    @app.after_request
    def _commit_before_reply(response):  # type: ignore[no-untyped-def]
        # Commit before the response leaves, so that a client never sees an id that a failed
        # commit then loses. Teardown only closes.
        session = g.get("db")
        if session is not None and response.status_code < 400 and not g.get("rollback"):
            session.commit()
        return response

    from addin_server.api import (
        campaigns,
        enrollments,
        feed,
        limits,
        me,
        openapi,
        people,
        sends,
        suppressions,
        tasks,
        templates,
    )

    for module in (campaigns, enrollments, tasks, sends, templates, feed, me, openapi,
                   suppressions, limits, people):
        app.register_blueprint(module.bp)
    from addin_server.web import extensions

    extensions.register_all(app)
