"""The rep's own settings page (`/settings/me`): the signature added to every email they send
through us, with a preview, and their snippets. The page's script saves through the REST API
(PATCH /api/v1/me/signature, /api/v1/snippets)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.campaigns.snippets import may_change, visible_snippets
from addin_server.models import Snippet
from addin_server.web.common import db
from addin_server.web.signin import current_rep, login_required

bp = Blueprint("rep_settings", __name__, template_folder="templates")


@bp.get("/settings/me")
@login_required
def my_settings() -> ResponseReturnValue:
    rep = current_rep()
    snippets = list(db().scalars(select(Snippet).where(visible_snippets(rep))
                                 .order_by(Snippet.name, Snippet.id)))
    return render_template("my_settings.html", snippets=snippets,
                           changeable={s.id for s in snippets if may_change(rep, s)},
                           hide_panel=True)
