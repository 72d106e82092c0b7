"""`addin-server`: Flask's CLI with our commands, one module per concern, listed in COMMANDS."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from addin_server import create_app
from addin_server.cli import accounts, crm, demo, keys, manifests, sending, sent_items, simulate
from addin_server.config import ConfigError

# Every command, in one visible list (name, command): `addin-server --help` shows them.
COMMANDS: tuple[tuple[str, click.Command], ...] = (
    ("init-db", accounts.init_db),
    ("create-rep", accounts.create_rep_command),
    ("org-domains", accounts.org_domains_command),
    ("set-admin", accounts.set_admin_command),
    ("worker", sending.worker_command),
    ("dispatch", sending.dispatch_command),
    ("why", sending.why_command),
    ("sync-sent-tasks", sent_items.sync_sent_tasks_command),
    # Once an Outlook-only pass that needed cron; kept so that an existing cron entry works.
    ("sync-outlook-sent", sent_items.sync_sent_tasks_command),
    ("crm-sync", crm.crm_sync),
    ("rotate-keys", keys.rotate_keys_command),
    ("render-manifests", manifests.render_manifests),
    ("seed-demo", demo.seed_demo_command),
    ("simulate-inbound", simulate.simulate_inbound_command),
)


def register_commands(app: Flask) -> None:
    for name, command in COMMANDS:
        app.cli.add_command(command, name=name)


def make_app() -> Flask:
    app = create_app()
    register_commands(app)
    return app


cli = FlaskGroup(create_app=make_app, add_default_commands=True, load_dotenv=False)


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        raise SystemExit(f"addin-server: {exc}") from None
