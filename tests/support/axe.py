"""The accessibility check of the browser tests: axe-core (bundled by axe-playwright-python)
run in the page as it is, and the width check for a phone-sized window."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()

# Horizontal overflow of the whole document: at 390 px nothing may need a sideways scroll
# except inside an element that scrolls on purpose (a wide table in its own scroller).
_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def violations(page: Any, impacts: tuple[str, ...] = ("critical",)) -> list[str]:
    """axe-core's violations of the given impacts on the page as shown now, one line each."""
    results = _AXE.run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in impacts]


def assert_accessible(page: Any) -> None:
    """No critical axe-core violation on the page as shown now."""
    found = violations(page)
    assert found == [], f"{page.url}: {found}"


def assert_fits(page: Any) -> None:
    """The page needs no sideways scroll at the current window width."""
    overflow = page.evaluate(_OVERFLOW)
    assert overflow <= 0, f"{page.url} is {overflow} px wider than the window"
