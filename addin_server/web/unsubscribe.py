"""The public unsubscribe endpoint, /u/<token> (no login: the signed token is the right).

GET shows a page with a confirm button (a link scanner that follows links must not
unsubscribe anyone). POST unsubscribes: our page's button, or a mail provider's RFC 8058
one-click request (`List-Unsubscribe=One-Click` in a bare form POST, no cookies). The token is
the `{{unsubscribe_link}}` of content.unsubscribe_url, signed with the secret key.
"""

from __future__ import annotations

from flask import Blueprint, render_template_string
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.inbound.unsubscribe import unsubscribe
from addin_server.models import Enrollment, Organisation, Person, Rep
from addin_server.runtime import runtime
from addin_server.suppressions import read_unsubscribe_token
from addin_server.web.common import db, now

bp = Blueprint("unsubscribe", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font:inherit;padding:.5rem 1.25rem;border-radius:.375rem;border:1px solid #1f4fd1;
background:#1f4fd1;color:#fff;cursor:pointer}</style></head>
<body><main>
<h1>{{ title }}</h1>
{% if state == "ask" %}
<p>Stop emails to <strong>{{ email }}</strong> from {{ sender }}?</p>
<form method="post"><input type="hidden" name="confirm" value="1">
<button type="submit">Unsubscribe</button></form>
{% elif state == "done" %}
<p><strong>{{ email }}</strong> will not receive these emails from {{ sender }} any more.</p>
{% else %}
<p>This unsubscribe link is not valid. If you copied it, check that it is complete.</p>
{% endif %}
</main></body></html>"""


def _sender(org_id: int, email: str) -> str:
    """Who the person is unsubscribing from, as they know them: the rep whose campaign wrote
    to them last and the organisation ("Ann Smith (ann@acme.test) at Acme"); the
    organisation alone when no campaign of it has them."""
    org = db().get(Organisation, org_id)
    company = org.name if org is not None else ""
    rep = db().scalar(
        select(Rep).join(Enrollment, Enrollment.rep_id == Rep.id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Person.org_id == org_id, Person.email == email.lower())
        .order_by(Enrollment.id.desc()).limit(1))
    if rep is None:
        return company or "this sender"
    who = f"{rep.name} ({rep.email})" if rep.name else rep.email
    return f"{who} at {company}" if company else who


def _page(state: str, email: str = "", status: int = 200, sender: str = ""
          ) -> ResponseReturnValue:
    titles = {"ask": "Unsubscribe", "done": "You are unsubscribed", "bad": "Link not valid"}
    html = render_template_string(PAGE, title=titles[state], state=state, email=email,
                                  sender=sender)
    return html, status, {"Content-Type": "text/html; charset=utf-8",
                          "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


@bp.get("/u/<token>")
def ask(token: str) -> ResponseReturnValue:
    found = read_unsubscribe_token(runtime().settings.secret_key, token)
    if found is None:
        return _page("bad", status=404)
    return _page("ask", found[1], sender=_sender(*found))


@bp.post("/u/<token>")
def confirm(token: str) -> ResponseReturnValue:
    found = read_unsubscribe_token(runtime().settings.secret_key, token)
    if found is None:
        return _page("bad", status=404)
    org_id, email = found
    unsubscribe(db(), org_id, email, now(), source="one-click" if _one_click()
                             else "unsubscribe page")
    return _page("done", email, sender=_sender(org_id, email))


def _one_click() -> bool:
    from flask import request

    return request.form.get("List-Unsubscribe") == "One-Click"
