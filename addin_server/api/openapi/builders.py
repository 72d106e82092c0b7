"""Small builders of OpenAPI operations and parameters (the bodies' schemas are generated from
the pydantic models, schemas.py)."""

from __future__ import annotations

from typing import Any

from addin_server.validation import MAX_ID

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


# What any JSON body can be answered: not JSON (400), too large (413), not declared as JSON
# (415), against the schema or the domain's rules (422).
BODY_ERRORS = ("400", "413", "415", "422")


def op(summary: str, ok: Schema | None, *, status: str = "200", body: Schema | None = None,
       params: list[Schema] | None = None, errors: tuple[str, ...] = ("401", "404"),
       also: str | None = None) -> Schema:
    """An operation; `also` is a second success status ("200" when a repeat changes nothing)."""
    operation: Schema = {"summary": summary, "responses": {}}
    if ok is not None:
        operation["responses"][status] = {"description": "OK", **json_content(ok)}
        if also is not None:
            operation["responses"][also] = {"description": "Already so: nothing changed",
                                            **json_content(ok)}
    for code in sorted({*errors, *(BODY_ERRORS if body is not None else ())}):
        operation["responses"][code] = ERRORS
    if body is not None:
        operation["requestBody"] = {"required": True, **json_content(body)}
    if params:
        operation["parameters"] = params
    return operation


ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def path_id(name: str) -> Schema:
    """An id in the path: any other number is a 404 naming the parameter (web/routing.py)."""
    return {"name": name, "in": "path", "required": True, "schema": ID}


def bounded(low: int, high: int) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}
