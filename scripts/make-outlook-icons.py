"""Render the Outlook add-in's icons (PNG, 16/32/64/80/128 px) from one SVG in headless Chromium.

Usage: python scripts/make-outlook-icons.py [chromium path]. Writes outlook_addin/icons/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SIZES = (16, 32, 64, 80, 128)
# A rounded blue tile with an envelope and a forward arrow: "a campaign of emails".
SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect x="2" y="2" width="60" height="60" rx="12" fill="#0f6cbd"/>
<rect x="12" y="18" width="34" height="26" rx="3" fill="#fff"/>
<path d="M13 20 L29 33 L45 20" fill="none" stroke="#0f6cbd" stroke-width="3.5"
 stroke-linejoin="round"/>
<path d="M40 44 H54 M48 37 L55 44 L48 51" fill="none" stroke="#fff" stroke-width="4.5"
 stroke-linecap="round" stroke-linejoin="round"/>
</svg>"""


def main() -> None:
    chromium = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/chromium"
    out = ROOT / "outlook_addin" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    (out / "icon.svg").write_text(SVG + "\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for size in SIZES:
            page = browser.new_page(viewport={"width": size, "height": size})
            data = SVG.replace("\n", " ").replace("#", "%23")
            page.set_content(
                "<html><body style='margin:0;background:transparent'>"
                f"<img src='data:image/svg+xml;utf8,{data}'"
                f" width='{size}' height='{size}' style='display:block'></body></html>"
            )
            page.screenshot(path=str(out / f"icon-{size}.png"), omit_background=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
