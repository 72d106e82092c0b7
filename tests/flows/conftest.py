"""Fixtures of the browser flows: one headless Chromium per module, the app served on
127.0.0.1, and a page signed in as the demo rep that fails its test on any JavaScript error.
A module that needs another page (another viewport, a console check) defines its own, which
overrides these."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from addin_server.config import Settings
from tests.conftest import FrozenClock
from tests.support.browser import Live, chromium, serve


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    yield from serve(settings, clock)


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(10_000)
    pg.goto("/signin")
    pg.get_by_role("button", name="Sign in as the demo rep").click()
    pg.wait_for_url(re.compile(r"/command$"))
    yield pg
    context.close()
    assert errors == [], errors  # no JavaScript error on any page
