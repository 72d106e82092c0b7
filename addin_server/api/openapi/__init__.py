"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json without a token.

Written by hand from small builders (builders.py): the component schemas in schemas.py, the
paths in paths.py. Tests check that every route is documented and that real responses validate
against these schemas, so the document says what the server does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from addin_server.api.common import PREFIX
from addin_server.api.openapi.builders import json_content, ref
from addin_server.api.openapi.paths import paths
from addin_server.api.openapi.schemas import SCHEMAS
from addin_server.web.common import runtime

# The only /api/v1 blueprint without authentication: the document is public.
bp = Blueprint("api_openapi", __name__, url_prefix=PREFIX)


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "addin-server API", "version": "1",
                 "description": "Sales campaigns sent from the rep's own mailbox. Errors are "
                                "`{\"errors\": [{\"field\", \"message\"}]}`; `field` names the "
                                "input at fault, like `steps[2].send_time`."},
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token from "
                                                          "`addin-server create-rep`"}},
            "schemas": SCHEMAS,
            "responses": {"Errors": {"description": "An error; `field` names the input",
                                     **json_content(ref("Errors"))}},
        },
        "paths": paths(),
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document(runtime().settings.public_base_url))
