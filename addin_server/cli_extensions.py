"""Commands added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    """Each part adds its own `app.cli.add_command(...)` below."""
    __import__("addin_server.send_cli", fromlist=["register"]).register(app)
