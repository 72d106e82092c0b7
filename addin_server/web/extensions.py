"""Blueprints added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    """Each part adds its own register call below."""
    from addin_server.web import suppression_api, unsubscribe  # replies/unsubscribe part

    unsubscribe.register(app)
    suppression_api.register(app)
