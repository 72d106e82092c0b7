"""Render the Outlook add-in's icons (PNG, 16/32/64/80/128 px, the unified manifest's 192 px
colour icon and 32 px white outline icon) from SVG in headless Chromium.

Usage: python scripts/make-outlook-icons.py [chromium path]. Writes outlook_addin/icons/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SIZES = (16, 32, 64, 80, 128, 192)
# A rounded blue tile with an envelope and a forward arrow: "a campaign of emails".
SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect x="2" y="2" width="60" height="60" rx="12" fill="#0f6cbd"/>
<rect x="12" y="18" width="34" height="26" rx="3" fill="#fff"/>
<path d="M13 20 L29 33 L45 20" fill="none" stroke="#0f6cbd" stroke-width="3.5"
 stroke-linejoin="round"/>
<path d="M40 44 H54 M48 37 L55 44 L48 51" fill="none" stroke="#fff" stroke-width="4.5"
 stroke-linecap="round" stroke-linejoin="round"/>
</svg>"""
# The unified manifest's outline icon: white on transparent, no background tile.
OUTLINE = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect x="3" y="8" width="20" height="15" rx="2" fill="none" stroke="#fff" stroke-width="2"/>
<path d="M4 9 L13 16 L22 9" fill="none" stroke="#fff" stroke-width="2" stroke-linejoin="round"/>
<path d="M20 24 H29 M25 20 L29 24 L25 28" fill="none" stroke="#fff" stroke-width="2.5"
 stroke-linecap="round" stroke-linejoin="round"/>
</svg>"""


def shoot(browser: Browser, svg: str, size: int, path: Path) -> None:
    page = browser.new_page(viewport={"width": size, "height": size})
    data = svg.replace("\n", " ").replace("#", "%23")
    page.set_content(
        "<html><body style='margin:0;background:transparent'>"
        f"<img src='data:image/svg+xml;utf8,{data}'"
        f" width='{size}' height='{size}' style='display:block'></body></html>"
    )
    page.screenshot(path=str(path), omit_background=True)
    page.close()


def main() -> None:
    chromium = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/chromium"
    out = ROOT / "outlook_addin" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    (out / "icon.svg").write_text(SVG + "\n")
    (out / "outline.svg").write_text(OUTLINE + "\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for size in SIZES:
            shoot(browser, SVG, size, out / f"icon-{size}.png")
        shoot(browser, OUTLINE, 32, out / "outline-32.png")
        browser.close()


if __name__ == "__main__":
    main()
