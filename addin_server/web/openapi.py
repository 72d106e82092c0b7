"""The OpenAPI 3.1 document of /api/v1 (filled in below; tests check it against the routes)."""

from __future__ import annotations

from typing import Any


def document(base_url: str) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "addin-server", "version": "1"},
            "servers": [{"url": f"{base_url}/api/v1"}], "paths": {}}
