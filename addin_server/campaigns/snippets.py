"""Snippets (saved pieces of text the rep inserts while composing) and the rep's signature:
their rules, apart from the web layer. Both are HTML with merge fields, sanitised like bodies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_

from addin_server.campaigns import templates
from addin_server.models import Rep, Snippet
from addin_server.validation import Errors, get_bool, get_str

MAX_SIGNATURE = 20_000


def visible_snippets(rep: Rep) -> ColumnElement[bool]:
    """A rep sees their own snippets and the ones shared with the organisation."""
    return (Snippet.org_id == rep.org_id) & or_(Snippet.rep_id == rep.id, Snippet.shared)


def may_change(rep: Rep, snippet: Snippet) -> bool:
    """Its owner changes it; an admin also manages the organisation's shared ones."""
    return snippet.org_id == rep.org_id and (
        snippet.rep_id == rep.id or (rep.is_admin and snippet.shared))


def _checked_html(text: str, where: str, errors: Errors, *, allow_prompts: bool = True) -> str:
    for problem in templates.check_template(text, allow_prompts=allow_prompts):
        errors.add(where, problem.message)
    return templates.sanitize_html(text) if text else ""


def parse_snippet(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The fields given (all of them unless `partial`), checked; raises ValidationFailed."""
    errors = Errors()
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        before = len(errors.items)
        name = get_str(data, "name", "name", errors, required=True, max_len=200).strip()
        if not name and len(errors.items) == before:
            errors.add("name", "is required")
        out["name"] = name
    if not partial or "body_html" in data:
        body = get_str(data, "body_html", "body_html", errors, required=True, max_len=50_000)
        out["body_html"] = _checked_html(body, "body_html", errors)
    if "shared" in data or not partial:
        out["shared"] = get_bool(data, "shared", "shared", errors, False)
    errors.raise_if_any()
    return out


def parse_signature(data: dict[str, Any]) -> str:
    errors = Errors()
    text = get_str(data, "signature_html", "signature_html", errors, max_len=MAX_SIGNATURE)
    # No {{! prompt }}: the signature goes on automatic emails too, which would all be held.
    clean = _checked_html(text, "signature_html", errors, allow_prompts=False)
    errors.raise_if_any()
    return clean
