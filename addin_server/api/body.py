"""JSON request bodies checked against their pydantic model (api/openapi/requests.py), the
same model the OpenAPI document shows, before the domain's parsers read them.

Errors keep the API's shape, field paths and wording: pydantic's location ("steps", 2,
"send_time") becomes `steps[2].send_time`, the path the parsers name and tests assert, and its
message becomes the parsers' ("must be true or false").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from addin_server.api.openapi.requests import HHMM_PATTERN
from addin_server.validation import FieldError, ValidationFailed
from addin_server.web.common import ApiError, json_body


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def checked_body(model: type[BaseModel]) -> dict[str, Any]:
    """The request's JSON object, valid against `model`; else 400/415/422 naming the fields.
    Returns the JSON as sent (the parsers then apply the rules a schema cannot say)."""
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed([FieldError(field_path(e["loc"]), message(model, e))
                                for e in exc.errors(include_url=False)]) from exc
    return data


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "too_short": "must not be empty",
}


def message(model: type[BaseModel], error: ErrorDetails) -> str:
    """The parsers' wording for a pydantic error (pydantic's own when there is none)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == HHMM_PATTERN:
        return "must be a time of day as HH:MM (24-hour)"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(model, error["loc"])
        return f"must be between {low} and {high}"
    return error["msg"]


def _bounds(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, Any]:
    """The minimum and maximum of the integer at `loc`, read from the model's JSON schema."""
    root = model.model_json_schema()
    schema: dict[str, Any] = root
    for part in loc:
        schema = _resolved(root, schema)
        schema = schema["items"] if isinstance(part, int) else schema["properties"][part]
    schema = _resolved(root, schema)
    return schema.get("minimum"), schema.get("maximum")


def _resolved(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a $ref, and pick the non-null branch of a nullable anyOf."""
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema
