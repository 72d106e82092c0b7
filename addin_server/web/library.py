"""The library pages: templates (every rep), suppressions and blocked domains (admins), the
organisation's settings (admins). Server-rendered lists; their scripts (templates.js,
suppressions.js, organisation.js) make every change through the REST API. Routed in pages.py."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import suppressions
from addin_server.accounts import org_domains, visible_people
from addin_server.api.serializers import template_json
from addin_server.campaigns.calendar import DAY_NAMES
from addin_server.campaigns.org_settings import STOP_RULES, org_settings
from addin_server.campaigns.template_library import library_query
from addin_server.models import Person, Rep
from addin_server.web.common import db

PAGE_SIZE = 50
PREVIEW_PEOPLE = 200

STOP_RULE_LABELS = {
    "stop_on_reply": "Stop on reply",
    "mark_success_on_reply": "Mark a reply as a success",
    "remove_on_bounce": "Remove on bounce",
    "reply_from_same_domain": "A reply from the person's company domain counts as theirs",
    "stop_other_campaigns_on_reply": "A reply also stops the person's other campaigns",
    "stop_company_on_colleague_reply": "A reply from a colleague at the same company stops "
                                       "everyone there",
    "skip_if_active_elsewhere": "At launch, skip people already active in another campaign",
}
assert set(STOP_RULE_LABELS) == set(STOP_RULES)

REASONS = {"unsubscribed": "Unsubscribed", "bounced": "Bounced", "manual": "Added by hand"}
UNSUBSCRIBE_SOURCES = {"one-click": "the one-click unsubscribe link",
                       "page": "the unsubscribe page", "email": "an unsubscribe email"}


def _page_no() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _q() -> str:
    return request.args.get("q", "").strip()[:200]


def templates_page(rep: Rep) -> ResponseReturnValue:
    q = _q()
    rows = list(db().scalars(library_query(rep, q)))
    people = list(db().scalars(select(Person.email).where(visible_people(rep))
                               .order_by(Person.email).limit(PREVIEW_PEOPLE)))
    return render_template("templates.html", q=q, templates=[template_json(t, rep) for t in rows],
                           people=people)


def _admin(rep: Rep) -> None:
    if not rep.is_admin:
        abort(403)


def why(reason: str, note: str) -> str:
    """A suppression's why, as an admin reads it."""
    if reason == "unsubscribed":
        return "Unsubscribed through " + UNSUBSCRIBE_SOURCES.get(note, note or "a link")
    if reason == "bounced":
        return "Bounced" + (f": {note}" if note else "")
    return "Added by hand" + (f": {note}" if note else "")


def suppressions_page(rep: Rep) -> ResponseReturnValue:
    _admin(rep)
    view = "domains" if request.args.get("view") == "domains" else "addresses"
    q, page = _q(), _page_no()
    query = (suppressions.domain_query(rep.org_id, q) if view == "domains"
             else suppressions.suppression_query(rep.org_id, q))
    total = suppressions.count(db(), query)
    rows = list(db().scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return render_template("suppressions.html", view=view, q=q, page=page,
                           page_size=PAGE_SIZE, total=total, rows=rows, why=why)


def organisation_page(rep: Rep) -> ResponseReturnValue:
    _admin(rep)
    return render_template("organisation.html", org=rep.org, settings=org_settings(
        rep.org.settings), domains=sorted(org_domains(rep.org)), days=DAY_NAMES,
        stop_rules=STOP_RULE_LABELS, timezones=sorted(available_timezones()))
