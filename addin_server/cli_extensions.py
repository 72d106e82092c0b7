"""Commands added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    """Each part adds its own `app.cli.add_command(...)` below."""
    from addin_server.mailboxes.keys import rotate_keys_command

    app.cli.add_command(rotate_keys_command)
    __import__("addin_server.send_cli", fromlist=["register"]).register(app)
