"""A phone-sized window (390 px): what a rep needs is there and readable, beyond the page
merely fitting (tests/flows/test_accessibility.py): every main link in the navigation, the
campaign table's numbers with their column names, the builder's buttons on one line each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.flows.test_accessibility import seed
from tests.support.browser import Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

ARTIFACTS = Path("test-artifacts")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"narrow-{name}.png"), full_page=True)


def fully_visible(page: Any, locator: Any) -> bool:
    """Inside the window and not cut by a scrolling or clipping ancestor."""
    result: bool = locator.evaluate("""(el) => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.left < 0 || r.right > window.innerWidth) return false;
        for (let p = el.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (s.overflowX === 'visible') continue;
            const b = p.getBoundingClientRect();
            if (r.left < b.left - 0.5 || r.right > b.right + 0.5) return false;
        }
        return true;
    }""")
    return result


def test_the_navigation_keeps_every_link(page: Any, live: Live) -> None:
    seed(live)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/command")
    shot(page, "nav")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Command Center", "Campaigns", "Live Feed", "Mailboxes"):
        link = nav.get_by_role("link", name=name)
        assert fully_visible(page, link), f"{name} is cut off at 390 px"


def test_the_campaign_table_names_each_number(page: Any, live: Live) -> None:
    seed(live)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/campaigns")
    shot(page, "campaigns")
    row = page.locator("table.grid tbody tr", has_text="Founders, Q1")
    # The text as seen, with what CSS puts before each cell (its column's name).
    text: str = row.evaluate("""(tr) => [...tr.cells].map((td) => {
        const before = getComputedStyle(td, '::before').content;
        const label = before && before !== 'none' ? JSON.parse(before) : '';
        return td.offsetParent === null ? '' : label + td.innerText;
    }).join(' ')""")
    text = " ".join(text.split())
    # Three people were launched on the campaign: the number comes with what it counts.
    for label in ("Steps", "Active: 3", "Paused: 0", "Replied: 0", "Finished: 0"):
        assert label in text, text


def test_the_builders_buttons_stay_on_one_line(page: Any, live: Live) -> None:
    ids = seed(live)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/campaigns/{ids['campaign']}")
    page.locator("[data-steps] li").first.wait_for()
    shot(page, "builder")
    buttons = page.locator("form[data-builder] .btn:visible")
    assert buttons.count() >= 6
    for i in range(buttons.count()):
        button = buttons.nth(i)
        box = button.bounding_box()
        label = button.inner_text()
        assert box is not None and box["height"] <= 40, f"{label!r} wraps: {box}"
        assert fully_visible(page, button), f"{label!r} is cut off"
    # Each group of buttons sits on one line: the header's actions, a step's move/remove
    # buttons, the add-a-step buttons.
    for group in (".head-actions .btn", "[data-steps] .step >> nth=0 >> .step-head .icon-btn",
                  ".add-step .btn"):
        tops = {round(b["y"]) for b in (page.locator(group).nth(i).bounding_box()
                                        for i in range(page.locator(group).count())) if b}
        assert len(tops) == 1, f"{group} wraps onto {len(tops)} lines"
