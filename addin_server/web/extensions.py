"""Blueprints added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    """Each part adds its own register call below."""
    __import__("addin_server.web.sends", fromlist=["register"]).register(app)
    from addin_server.web import oauth

    oauth.register(app)  # connect Gmail / Microsoft 365 mailboxes
