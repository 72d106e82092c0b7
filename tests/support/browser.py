"""A live server and a headless Chromium for the web app's browser tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from addin_server import create_app
from addin_server.config import Settings
from addin_server.runtime import Runtime
from tests.fakes.server import serve as serve_wsgi

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Live:
    url: str
    runtime: Runtime
    app: Flask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(settings: Settings, clock: object) -> Iterator[Live]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = Runtime.from_settings(settings.with_(dev_mode=True, public_base_url=url),
                                    clock=clock)  # type: ignore[arg-type]
    app = create_app(runtime=runtime)
    try:
        with serve_wsgi(app, port=port):
            yield Live(url, runtime, app)
    finally:
        runtime.engine.dispose()


def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
