"""Request plumbing shared by the blueprints: the session, the clock, JSON in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from addin_server.runtime import runtime
from addin_server.validation import Errors, FieldError, ValidationFailed, check_json_text


class ApiError(Exception):
    """An error answered as JSON `{"errors": [{"field", "message"}]}` with a status."""

    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.errors = [FieldError(field, message)]


def db() -> Session:
    """The request's session; committed once when the request succeeds."""
    if "db" not in g:
        g.db = runtime().sessions()
    session: Session = g.db
    return session


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer <token>` header ("" when none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def now() -> datetime:
    if "now" not in g:
        g.now = runtime().now()
    value: datetime = g.now
    return value


def json_body() -> Any:
    if not request.is_json:
        raise ApiError(415, "send the body as application/json")
    if not request.data:
        raise ApiError(400, "the request needs a JSON body")
    try:
        data = request.get_json(silent=True)
    except RecursionError as exc:  # the json module recurses per level of nesting
        raise ApiError(400, "the body is nested too deeply") from exc
    if data is None:
        raise ApiError(400, "the body is not valid JSON")
    # NUL (PostgreSQL refuses it, SQLite would store it) and lone surrogates (no encoding
    # takes them) anywhere in the document are refused here, once for every endpoint.
    errors = Errors()
    check_json_text(data, errors)
    errors.raise_if_any()
    return data


def not_found(what: str = "id") -> NoReturn:
    raise ApiError(404, "not found", what)


def errors_response(status: int, errors: list[FieldError]) -> ResponseReturnValue:
    return jsonify({"errors": [e.as_dict() for e in errors]}), status


def validation_response(exc: ValidationFailed) -> ResponseReturnValue:
    return errors_response(422, exc.errors)


def iso(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None
