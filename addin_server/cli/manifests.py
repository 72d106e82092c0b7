"""`addin-server render-manifests`: every add-in manifest, rendered from one public base URL.

Each client's manifest has its own renderer, `render(base_url) -> {file name: content}` (text,
or bytes for a package), which
raises ValueError for a base URL it cannot use. Add a renderer with one line in RENDERERS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import click

from addin_server.config import Settings

Renderer = Callable[[str], dict[str, str | bytes]]

RENDERERS: tuple[str, ...] = (
    "addin_server.addins.outlook.manifest_xml:render",
    "addin_server.addins.outlook.manifest_json:render",
    "addin_server.addins.gmail.manifest:render",
)


def renderer(target: str) -> Renderer:
    module, _, name = target.partition(":")
    function: Renderer = getattr(importlib.import_module(module), name)
    return function


def render_all(base_url: str, out_dir: Path) -> list[Path]:
    """Render every manifest into `out_dir`; nothing is written unless all of them render."""
    files: dict[str, str | bytes] = {}
    for target in RENDERERS:
        files.update(renderer(target)(base_url))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        path = out_dir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


@click.command("render-manifests")
@click.option("--base-url", default=None,
              help="Public https URL of this service (default: PUBLIC_BASE_URL).")
@click.option("--out", "out_dir", default="manifests", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder the manifests are written to.")
def render_manifests(base_url: str | None, out_dir: Path) -> None:
    """Write the Outlook manifest (and the other add-ins' descriptors) for a base URL."""
    if base_url is None:
        base_url = Settings.from_env().public_base_url
    try:
        written = render_all(base_url.rstrip("/"), out_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from exc
    for path in written:
        click.echo(f"wrote {path}")
