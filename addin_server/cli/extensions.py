"""Commands added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask

from addin_server.cli import crm as crm_cli


def register_all(app: Flask) -> None:
    """Each part adds its own `app.cli.add_command(...)` below."""
    from addin_server.cli.manifests import render_manifests

    app.cli.add_command(render_manifests)
    from addin_server.cli.keys import rotate_keys_command

    app.cli.add_command(rotate_keys_command)
    from addin_server.cli.demo import seed_demo_command  # web app: the demo rep's sample work

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(crm_cli.crm_sync)
    from addin_server.cli.sent_items import register as register_sent_items_commands

    register_sent_items_commands(app)
    __import__("addin_server.cli.sending", fromlist=["register"]).register(app)
