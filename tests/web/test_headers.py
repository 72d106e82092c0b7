"""Security headers on every response (web/headers.py): CSP without inline script and with
`frame-ancestors 'none'` (the Outlook pane: Office's hosts), nosniff, Referrer-Policy, Secure
cookies and HSTS behind https."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from addin_server.config import Settings
from tests.conftest import make_actor


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(dev_mode=True)  # public_base_url is https in the test settings


def directives(response: Any) -> dict[str, str]:
    csp = response.headers["Content-Security-Policy"]
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
            for part in csp.split(";")}


def test_every_kind_of_response_has_the_headers(client: FlaskClient, runtime: Any) -> None:
    actor = make_actor(runtime, client, "ann@acme.test")
    responses = {
        "sign-in page": client.get("/signin"),
        "redirect": client.get("/campaigns"),
        "static file": client.get("/static/app.js"),
        "api": client.get("/api/v1/me", headers=actor.headers),
        "api error": client.get("/api/v1/me"),
        "unsubscribe page": client.get("/u/not-a-token"),
        "not found": client.get("/nowhere"),
        "graph echo": client.post("/push/graph?validationToken=abc"),
    }
    for name, response in responses.items():
        d = directives(response)
        assert d["script-src"] == "'self'", name
        assert d["frame-ancestors"] == "'none'", name
        assert d["object-src"] == "'none'" and d["base-uri"] == "'self'", name
        assert "unsafe-inline" not in d["script-src"] and "unsafe-eval" not in str(d), name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "same-origin", name
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000", name


def test_the_outlook_pane_may_be_framed_by_office_only(client: FlaskClient) -> None:
    d = directives(client.get("/outlook/taskpane.html"))
    assert "https://outlook.office.com" in d["frame-ancestors"]
    assert "'none'" not in d["frame-ancestors"]
    assert d["script-src"] == "'self' https://appsforoffice.microsoft.com"


def test_cookies_are_secure_and_httponly_behind_https(client: FlaskClient) -> None:
    client.get("/signin")  # the CSRF token makes a session
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert cookie.same_site == "Lax"


def test_no_template_has_inline_script_or_handlers() -> None:
    import re
    from pathlib import Path

    import addin_server

    root = Path(addin_server.__file__).parent.parent
    pages = [*root.glob("addin_server/web/templates/*.html"), *root.glob("outlook_addin/*.html")]
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (page.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), page.name
        assert "javascript:" not in html, page.name
