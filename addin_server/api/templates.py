"""REST API of saved templates (the organisation's), and the preview of a subject and body
rendered for a person."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from addin_server.accounts import (
    may_manage_template,
    may_see_template,
    visible_people,
)
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import template_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns import template_library as library
from addin_server.campaigns import templates
from addin_server.campaigns.rendering import merge_values
from addin_server.enrollments.people import parse_person
from addin_server.errors import Conflict
from addin_server.models import Person, Rep, Template
from addin_server.validation import MAX_ID, Errors, FieldError, ValidationFailed
from addin_server.web.common import ApiError, db, not_found, now, runtime

bp = api_blueprint("api_templates", __name__)


@bp.get("/templates")
def list_templates() -> ResponseReturnValue:
    """The templates the rep may use: their own and the shared ones (an admin's: the
    organisation's); `q` finds words of the name or subject, `shared` (1/0) narrows. A page at a
    time (200 by default), and how many in all."""
    rep = current_rep()
    shared = request.args.get("shared")
    if shared not in (None, "", "0", "1"):
        raise ApiError(422, "must be 1 or 0", "shared")
    limit, offset = clamped_page(200)
    query = library.library_query(
        rep, request.args.get("q", "").strip()[:200], None if not shared else shared == "1")
    rows = db().scalars(query.limit(limit).offset(offset))
    total = db().scalar(select(func.count()).select_from(
        query.order_by(None).with_only_columns(Template.id).subquery()))
    return jsonify({"templates": [template_json(t, rep) for t in rows], "total": total})


@bp.post("/templates")
def create_template() -> ResponseReturnValue:
    data = checked_body(bodies.TemplateIn)
    name, subject, body = campaigns.parse_template(data)
    rep = current_rep()
    shared = data.get("shared") is True
    if shared and not rep.is_admin:
        raise ApiError(403, "only an administrator shares a template with the organisation",
                       "shared")
    template = Template(org_id=rep.org_id, rep_id=rep.id, name=name, subject=subject,
                        body_html=body, shared=shared, created_at=now(), updated_at=now())
    db().add(template)
    db().flush()
    return jsonify(template_json(template, rep)), 201


def usable_template(template_id: int) -> Template:
    """A template the rep may use (own, shared, or any of the organisation's for an admin);
    anything else is a 404, as if it did not exist."""
    template = db().get(Template, template_id)
    if not may_see_template(current_rep(), template):
        not_found("template_id")
    assert template is not None
    return template


def managed_template(template_id: int) -> Template:
    """A template the rep may change: 404 when they cannot see it, 403 when it is shared and
    they are not an administrator."""
    template = usable_template(template_id)
    if not may_manage_template(current_rep(), template):
        raise ApiError(403, "a shared template is managed by administrators: duplicate it to "
                       "make your own", "template_id")
    return template


@bp.get("/templates/<int:template_id>")
def get_template(template_id: int) -> ResponseReturnValue:
    return jsonify(template_json(usable_template(template_id), current_rep()))


@bp.patch("/templates/<int:template_id>")
def patch_template(template_id: int) -> ResponseReturnValue:
    template = managed_template(template_id)
    data = checked_body(bodies.TemplatePatch)
    rep = current_rep()
    if data.get("shared") is not None and data["shared"] != template.shared \
            and not rep.is_admin:
        raise ApiError(403, "only an administrator shares a template with the organisation",
                       "shared")
    merged = {"name": template.name, "subject": template.subject,
              "body_html": template.body_html}
    merged.update({k: v for k, v in data.items() if k in merged})
    name, subject, body = campaigns.parse_template(merged)
    template.name, template.subject, template.body_html = name, subject, body
    if data.get("shared") is not None:
        template.shared = data["shared"]
    template.updated_at = now()
    return jsonify(template_json(template, rep))


@bp.delete("/templates/<int:template_id>")
def delete_template(template_id: int) -> ResponseReturnValue:
    """Refused (409 naming the campaigns and steps) while a live step uses it."""
    template = managed_template(template_id)
    try:
        detached = library.delete_template(db(), template)
    except Conflict as exc:
        raise ApiError(409, str(exc), "template_id") from exc
    return jsonify({"deleted": template_id, "detached_steps": detached})


@bp.post("/templates/<int:template_id>/duplicate")
def duplicate_template(template_id: int) -> ResponseReturnValue:
    rep = current_rep()
    copy = library.duplicate_template(db(), usable_template(template_id), rep, now())
    return jsonify(template_json(copy, rep)), 201


@bp.post("/preview")
def preview() -> ResponseReturnValue:
    """Render a subject and body (or a saved template) for a person, without saving anything."""
    data = checked_body(bodies.PreviewIn)
    errors = Errors()
    rep = current_rep()
    subject, body = data.get("subject", ""), data.get("body_html", "")
    if data.get("template_id") is not None:
        template = usable_template(_int(data["template_id"], "template_id"))
        subject, body = template.subject, template.body_html
    if not isinstance(subject, str) or not isinstance(body, str):
        raise ApiError(422, "subject and body_html must be strings", "body_html")
    person = _preview_person(data, errors, rep)
    errors.raise_if_any()
    assert person is not None
    settings = runtime().settings
    values = merge_values(person, rep, base_url=settings.public_base_url,
                          secret_key=settings.secret_key)
    problems = [("subject", p.message) for p in templates.check_template(subject,
                                                                         allow_prompts=True)]
    problems += [("body_html", p.message) for p in templates.check_template(body,
                                                                           allow_prompts=True)]
    if problems:
        raise ValidationFailed([FieldError(f, m) for f, m in problems])
    # A field the person lacks is marked where it stands (`<mark class="missing-field">`
    # in the body, `[name]` in the subject) rather than blanking the whole preview.
    missing: set[str] = set()
    rendered = {}
    for key, text, html in (("subject", subject, False), ("body_html", body, True)):
        rendered[key], holes = templates.render_filled(text, values, html=html,
                                                       keep_prompts=True, missing="mark")
        missing.update(holes)
    return jsonify({**rendered, "missing_fields": sorted(missing),
                    "prompts": templates.find_prompts(body) + templates.find_prompts(subject)})


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ApiError(422, f"must be an integer from 1 to {MAX_ID}", where)
    return value


def _preview_person(data: dict[str, Any], errors: Errors, rep: Rep) -> Person | None:
    if isinstance(data.get("person_email"), str):
        person = db().scalar(select(Person).where(
            visible_people(rep), Person.email == data["person_email"].strip().lower()))
        if person is None:  # or another rep's: the same answer, so it tells nothing
            errors.add("person_email", "no such person")
        return person
    parsed = parse_person(data.get("person") or {"email": "sample@example.com"},
                                   "person", errors)
    if parsed is None:
        return None
    return Person(org_id=rep.org_id, email=parsed.email, first_name=parsed.first_name,
                  last_name=parsed.last_name, company=parsed.company, title=parsed.title,
                  timezone=parsed.timezone, fields=parsed.fields)
