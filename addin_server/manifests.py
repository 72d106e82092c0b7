"""`addin-server render-manifests`: the client manifests, rendered from the public base URL
into `manifests/` (one template per client, never hand-edited copies). One function per
renderer; each returns (file name, text)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from addin_server.config import Settings

Renderer = Callable[[Settings], tuple[str, str]]


def addon_base_url(settings: Settings) -> str:
    """The base of the Gmail add-on's URLs (also the token audience's base)."""
    return (settings.gmail_addon_audience or settings.public_base_url).rstrip("/")


def render_gmail_deployment(settings: Settings) -> tuple[str, str]:
    from gmail_addon.deployment import deployment

    text = json.dumps(deployment(addon_base_url(settings)), indent=2) + "\n"
    return "gmail-addon-deployment.json", text


RENDERERS: list[Renderer] = [render_gmail_deployment]


def write_manifests(settings: Settings, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for render in RENDERERS:
        name, text = render(settings)
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@click.command("render-manifests")
@with_appcontext
@click.option("--out", "out_dir", default="manifests", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def render_manifests_command(out_dir: Path) -> None:
    """Write the add-in manifests for PUBLIC_BASE_URL into OUT."""
    from flask import current_app

    settings = current_app.extensions["addin"].settings
    try:
        paths = write_manifests(settings, out_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in paths:
        click.echo(f"wrote {path}")


def register(app: Flask) -> None:
    app.cli.add_command(render_manifests_command)
