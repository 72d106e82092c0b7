"""Small builders of OpenAPI schemas, operations and parameters."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
NSTR: Schema = {"type": ["string", "null"]}
NINT: Schema = {"type": ["integer", "null"]}
INSTANT: Schema = {"type": "string", "format": "date-time", "pattern": "Z$"}
NINSTANT: Schema = {"type": ["string", "null"], "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}

ERRORS = {"$ref": "#/components/responses/Errors"}


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def op(summary: str, ok: Schema | None, *, status: str = "200", body: Schema | None = None,
       params: list[Schema] | None = None, errors: tuple[str, ...] = ("401", "404")) -> Schema:
    operation: Schema = {"summary": summary, "responses": {}}
    if ok is not None:
        operation["responses"][status] = {"description": "OK", **json_content(ok)}
    for code in errors:
        operation["responses"][code] = ERRORS
    if body is not None:
        operation["requestBody"] = {"required": True, **json_content(body)}
    if params:
        operation["parameters"] = params
    return operation


def path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": INT}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}
