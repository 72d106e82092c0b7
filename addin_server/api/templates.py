"""REST API of saved templates (the organisation's), and the preview of a subject and body
rendered for a person."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from addin_server.accounts import visible_people, visible_templates
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep, owned
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import template_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns import templates
from addin_server.campaigns.rendering import merge_values
from addin_server.enrollments.people import parse_person
from addin_server.models import Person, Rep, Template
from addin_server.validation import MAX_ID, Errors, FieldError, ValidationFailed
from addin_server.web.common import ApiError, db, now, runtime

bp = api_blueprint("api_templates", __name__)


@bp.get("/templates")
def list_templates() -> ResponseReturnValue:
    # A rep's own templates; an admin's, the organisation's. A page at a time, and how many.
    limit, offset = clamped_page(200)
    visible = visible_templates(current_rep())
    rows = db().scalars(select(Template).where(visible).order_by(Template.id)
                        .limit(limit).offset(offset))
    total = db().scalar(select(func.count()).select_from(Template).where(visible))
    return jsonify({"templates": [template_json(t) for t in rows], "total": total})


@bp.post("/templates")
def create_template() -> ResponseReturnValue:
    name, subject, body = campaigns.parse_template(checked_body(bodies.TemplateIn))
    rep = current_rep()
    template = Template(org_id=rep.org_id, rep_id=rep.id, name=name, subject=subject,
                        body_html=body, created_at=now(), updated_at=now())
    db().add(template)
    db().flush()
    return jsonify(template_json(template)), 201


@bp.get("/templates/<int:template_id>")
def get_template(template_id: int) -> ResponseReturnValue:
    return jsonify(template_json(owned(Template, template_id)))


@bp.patch("/templates/<int:template_id>")
def patch_template(template_id: int) -> ResponseReturnValue:
    template = owned(Template, template_id)
    data = checked_body(bodies.TemplatePatch)
    merged = {"name": template.name, "subject": template.subject,
              "body_html": template.body_html}
    merged.update({k: v for k, v in data.items() if k in merged})
    name, subject, body = campaigns.parse_template(merged)
    template.name, template.subject, template.body_html = name, subject, body
    template.updated_at = now()
    return jsonify(template_json(template))


@bp.post("/preview")
def preview() -> ResponseReturnValue:
    """Render a subject and body (or a saved template) for a person, without saving anything."""
    data = checked_body(bodies.PreviewIn)
    errors = Errors()
    rep = current_rep()
    subject, body = data.get("subject", ""), data.get("body_html", "")
    if data.get("template_id") is not None:
        template = owned(Template, _int(data["template_id"], "template_id"))
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
    missing: set[str] = set()
    rendered = {}
    for key, text, html in (("subject", subject, False), ("body_html", body, True)):
        try:
            rendered[key] = templates.render(text, values, html=html, keep_prompts=True)
        except templates.MissingFields as exc:
            missing.update(exc.names)
            rendered[key] = ""
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
