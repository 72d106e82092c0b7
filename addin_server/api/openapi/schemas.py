"""The component schemas of the OpenAPI document, generated from the pydantic models of
requests.py and responses.py: the one source of both the document and body validation.

Generated with pydantic's own `models_json_schema` (no extra library): request models as the
validator reads them, responses as they are sent; `$ref`s point into components/schemas.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from addin_server.api.openapi import requests, responses

Schema = dict[str, Any]

MODELS: tuple[type[BaseModel], ...] = tuple(
    m for module in (requests, responses) for m in vars(module).values()
    if isinstance(m, type) and issubclass(m, (requests.In, responses.Out))
    and m not in (requests.In, responses.Out))


def _generate() -> dict[str, Schema]:
    """components/schemas: request models as the validator sees them, responses as sent."""
    _, top = models_json_schema(
        [(m, "validation" if issubclass(m, requests.In) else "serialization") for m in MODELS],
        ref_template="#/components/schemas/{model}")
    schemas: dict[str, Schema] = top.get("$defs", {})
    for schema in schemas.values():
        _tidy(schema)
    return schemas


def _tidy(schema: Any) -> None:
    """Drop what only pydantic needs (titles, defaults of documentation-only models)."""
    if isinstance(schema, dict):
        schema.pop("title", None)
        schema.pop("default", None)
        for value in schema.values():
            _tidy(value)
    elif isinstance(schema, list):
        for value in schema:
            _tidy(value)


SCHEMAS: dict[str, Schema] = _generate()
