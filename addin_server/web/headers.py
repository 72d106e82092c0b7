"""Security headers on every response (installed by create_app).

- Content-Security-Policy: scripts only from our own files (no inline script, no handler
  attributes, no eval), nothing may frame the pages (`frame-ancestors 'none'`), no plugins, no
  <base>. Styles may be inline: email bodies shown in preview and compose carry style attributes
  (cleaned by campaigns/templates.py), and styles cannot run code. Images may come from any
  https host, as an email's may. The Outlook pane's pages set their own policy
  (addins/outlook/routes.py: framed by Office's hosts, office.js from Microsoft's CDN); it is
  kept.
- X-Content-Type-Options: nosniff; Referrer-Policy: same-origin (an unsubscribe or OAuth URL
  never leaves in a Referer).
- Behind https (PUBLIC_BASE_URL): cookies are Secure (create_app) and Strict-Transport-Security.
"""

from __future__ import annotations

from flask import Flask, Response

from addin_server.config import Settings

PAGE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
))


def install_security_headers(app: Flask, settings: Settings) -> None:
    https = settings.public_base_url.startswith("https://")

    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        headers["X-Content-Type-Options"] = "nosniff"
        headers.setdefault("Referrer-Policy", "same-origin")
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.after_request(add_headers)
