"""REST API of snippets: saved pieces of text (merge fields allowed) inserted while composing,
private to their rep or shared with the organisation."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.campaigns.snippets import may_change, parse_snippet, visible_snippets
from addin_server.models import Rep, Snippet
from addin_server.web.common import ApiError, db, iso, not_found, now

bp = api_blueprint("api_snippets", __name__)


def snippet_json(snippet: Snippet, rep: Rep) -> dict[str, Any]:
    return {"id": snippet.id, "name": snippet.name, "body_html": snippet.body_html,
            "shared": snippet.shared, "mine": snippet.rep_id == rep.id,
            "owner_rep_id": snippet.rep_id, "updated_at": iso(snippet.updated_at)}


def _visible(snippet_id: int) -> Snippet:
    """A snippet the caller may see (another rep's private one is a 404, telling nothing)."""
    rep = current_rep()
    snippet = db().scalar(select(Snippet).where(Snippet.id == snippet_id,
                                                visible_snippets(rep)))
    if snippet is None:
        not_found()
    return snippet


def _changeable(snippet_id: int) -> Snippet:
    snippet = _visible(snippet_id)
    if not may_change(current_rep(), snippet):
        raise ApiError(403, "a shared snippet is changed by its owner or an administrator")
    return snippet


@bp.get("/snippets")
def list_snippets() -> ResponseReturnValue:
    rep = current_rep()
    rows = db().scalars(select(Snippet).where(visible_snippets(rep))
                        .order_by(Snippet.name, Snippet.id))
    return jsonify({"snippets": [snippet_json(s, rep) for s in rows]})


@bp.post("/snippets")
def create_snippet() -> ResponseReturnValue:
    rep = current_rep()
    fields = parse_snippet(checked_body(bodies.SnippetIn))
    snippet = Snippet(org_id=rep.org_id, rep_id=rep.id, created_at=now(), updated_at=now(),
                      **fields)
    db().add(snippet)
    db().flush()
    return jsonify(snippet_json(snippet, rep)), 201


@bp.get("/snippets/<int:snippet_id>")
def get_snippet(snippet_id: int) -> ResponseReturnValue:
    return jsonify(snippet_json(_visible(snippet_id), current_rep()))


@bp.patch("/snippets/<int:snippet_id>")
def patch_snippet(snippet_id: int) -> ResponseReturnValue:
    snippet = _changeable(snippet_id)
    fields = parse_snippet(checked_body(bodies.SnippetPatch), partial=True)
    for key, value in fields.items():
        setattr(snippet, key, value)
    snippet.updated_at = now()
    db().flush()
    return jsonify(snippet_json(snippet, current_rep()))


@bp.delete("/snippets/<int:snippet_id>")
def delete_snippet(snippet_id: int) -> ResponseReturnValue:
    db().delete(_changeable(snippet_id))
    return "", 204
