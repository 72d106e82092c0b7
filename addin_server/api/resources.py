"""The REST API (JSON) under /api/v1, described by /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import feed
from addin_server.accounts import rep_for_token
from addin_server.api.serializers import (
    campaign_json,
    enrollment_json,
    event_json,
    task_json,
    template_json,
)
from addin_server.campaigns import service as campaigns
from addin_server.campaigns import templates
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.rendering import merge_values
from addin_server.enrollments import launch as launches
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enrollments import tasks
from addin_server.enums import StepType, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Rep, Task, Template
from addin_server.validation import Errors, FieldError, ValidationFailed
from addin_server.web.common import ApiError, db, json_body, not_found, now, runtime

api = Blueprint("api", __name__, url_prefix="/api/v1")

T = TypeVar("T", Campaign, Enrollment, Task, Template)


@api.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    rep = None
    if scheme.lower() == "bearer" and token.strip():
        rep = rep_for_token(db(), token.strip(), now())
    if rep is None:
        rep = _session_rep()
    if rep is None:
        raise ApiError(401, "a valid API token is required (Authorization: Bearer <token>)",
                       "Authorization")
    g.rep = rep


def _session_rep() -> Rep | None:
    """The web app's signed-in rep, for the pages' own calls (CSRF-checked by the web app)."""
    from flask import session

    rep_id = session.get("rep_id")
    if rep_id is None or (request.method not in ("GET", "HEAD") and not g.get("csrf_ok")):
        return None
    return db().get(Rep, rep_id)


def current_rep() -> Rep:
    rep: Rep = g.rep
    return rep


def owned(model: type[T], object_id: int) -> T:
    """The object if the rep may see it: their own, or their organisation's for an admin.
    Anything else is a 404, so that ids of other organisations reveal nothing."""
    obj = db().get(model, object_id)
    rep = current_rep()
    if obj is None or obj.org_id != rep.org_id:
        not_found()
    owner = getattr(obj, "rep_id", rep.id)
    if not rep.is_admin and owner != rep.id:
        not_found()
    return obj


# --- campaigns -------------------------------------------------------------------------------


@api.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    items = campaigns.campaigns_for(db(), current_rep())
    return jsonify({"campaigns": [campaign_json(c) for c in items]})


@api.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    rep = current_rep()
    spec = parse_campaign(json_body(), default_timezone=rep.timezone)
    campaign = campaigns.create_campaign(db(), rep, spec, now())
    return jsonify(campaign_json(campaign)), 201


@api.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> ResponseReturnValue:
    return jsonify(campaign_json(owned(Campaign, campaign_id)))


@api.patch("/campaigns/<int:campaign_id>")
def patch_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    campaigns.update_campaign(db(), campaign, json_body(), now())
    return jsonify(campaign_json(campaign))


@api.post("/campaigns/<int:campaign_id>/launch")
def launch_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    limit = runtime().settings.max_people_per_launch
    errors = Errors()
    if request.mimetype == "text/csv":
        try:
            text = request.get_data(as_text=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "the CSV must be UTF-8", "csv") from exc
        people = launches.parse_csv(text, errors, limit=limit)
        options = launches.parse_options(dict(request.args), errors)
    else:
        body = json_body()
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object")
        people = launches.parse_people(body.get("people"), errors, limit=limit)
        options = launches.parse_options(body, errors)
    errors.raise_if_any()
    result = launches.launch(db(), current_rep(), campaign, people, options, now())
    return jsonify({
        "enrollments": [{"id": i, "email": e, "status": s} for i, e, s in result.enrolled],
        "skipped": [{"email": e, "reason": r} for e, r in result.skipped],
    }), 201


@api.get("/campaigns/<int:campaign_id>/enrollments")
def campaign_enrollments(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    rows = db().execute(
        select(Enrollment.id, Enrollment.status, Person.email)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.campaign_id == campaign.id)
        .order_by(Enrollment.id)
    )
    return jsonify({"enrollments": [
        {"id": i, "status": s.value, "email": e} for i, s, e in rows
    ]})


# --- enrollments ----------------------------------------------------------------------------


@api.get("/enrollments/<int:enrollment_id>")
def get_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return jsonify(enrollment_json(owned(Enrollment, enrollment_id)))


def _change(enrollment_id: int, action: str) -> ResponseReturnValue:
    enrollment = owned(Enrollment, enrollment_id)
    try:
        if action == "pause":
            enrollments.pause(db(), enrollment, now())
        elif action == "resume":
            enrollments.resume(db(), enrollment, now())
        else:
            enrollments.end(db(), enrollment, now())
    except enrollments.Conflict as exc:
        raise ApiError(409, str(exc), "status") from exc
    db().flush()
    return jsonify(enrollment_json(enrollment))


@api.post("/enrollments/<int:enrollment_id>/pause")
def pause_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "pause")


@api.post("/enrollments/<int:enrollment_id>/resume")
def resume_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "resume")


@api.post("/enrollments/<int:enrollment_id>/stop")
def stop_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "stop")


# --- tasks ----------------------------------------------------------------------------------


@api.get("/tasks")
def list_tasks() -> ResponseReturnValue:
    status = request.args.get("status", "open")
    if status not in {s.value for s in TaskStatus}:
        raise ApiError(422, "must be one of " + ", ".join(s.value for s in TaskStatus), "status")
    try:
        limit = min(int(request.args.get("limit", 200)), 1000)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError as exc:
        raise ApiError(422, "limit and offset must be integers", "limit") from exc
    rep = current_rep()
    query = (
        select(Task, Person, Campaign)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.org_id == rep.org_id, Task.status == TaskStatus(status))
    )
    if not rep.is_admin or request.args.get("mine") == "1":
        query = query.where(Task.rep_id == rep.id)
    # Email tasks first (they are the quickest to clear), then by due date.
    query = query.order_by((Task.type != StepType.EMAIL), Task.due_date, Task.id)
    rows = db().execute(query.limit(limit).offset(offset)).all()
    return jsonify({"tasks": [task_json(t, p, c) for t, p, c in rows]})


@api.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    enrollment = db().get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    return jsonify(task_json(task, enrollment.person, enrollment.campaign))


@api.get("/tasks/<int:task_id>/compose")
def compose_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    if task.type != StepType.EMAIL:
        raise ApiError(409, "only email tasks have an email to compose", "type")
    settings = runtime().settings
    try:
        email = tasks.compose(db(), task, current_rep(), base_url=settings.public_base_url,
                              secret_key=settings.secret_key)
    except templates.MissingFields as exc:
        raise ApiError(409, "fill these fields for the person first: " + ", ".join(exc.names),
                       "person.fields") from exc
    reply = None
    if email.reply is not None:
        reply = {
            "message_id": email.reply.rfc_message_id,
            "references": email.reply.references,
            "thread_id": email.reply.thread_id,
            "provider_message_id": email.reply.provider_message_id,
            "subject": email.reply.subject,
        }
    return jsonify({
        "to": email.to,
        "subject": email.subject,
        "body_html": email.body_html,
        "reply_to": reply,
        "prompts": templates.find_prompts(email.body_html) + templates.find_prompts(email.subject),
    })


@api.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    changed = tasks.complete_task(db(), task, now())
    return _task_result(task, changed)


@api.post("/tasks/<int:task_id>/skip")
def skip_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    changed = tasks.skip_task(db(), task, now())
    return _task_result(task, changed)


def _task_result(task: Task, changed: bool) -> ResponseReturnValue:
    if not changed and task.status == TaskStatus.CANCELLED:
        raise ApiError(409, "the task was cancelled (the person left the campaign)", "status")
    db().refresh(task)
    return jsonify({"id": task.id, "status": task.status.value, "changed": changed})


# --- templates and preview ------------------------------------------------------------------


@api.get("/templates")
def list_templates() -> ResponseReturnValue:
    rows = db().scalars(select(Template).where(Template.org_id == current_rep().org_id)
                        .order_by(Template.id))
    return jsonify({"templates": [template_json(t) for t in rows]})


@api.post("/templates")
def create_template() -> ResponseReturnValue:
    name, subject, body = campaigns.parse_template(json_body())
    rep = current_rep()
    template = Template(org_id=rep.org_id, rep_id=rep.id, name=name, subject=subject,
                        body_html=body, created_at=now(), updated_at=now())
    db().add(template)
    db().flush()
    return jsonify(template_json(template)), 201


@api.get("/templates/<int:template_id>")
def get_template(template_id: int) -> ResponseReturnValue:
    return jsonify(template_json(owned(Template, template_id)))


@api.patch("/templates/<int:template_id>")
def patch_template(template_id: int) -> ResponseReturnValue:
    template = owned(Template, template_id)
    data = json_body()
    merged = {"name": template.name, "subject": template.subject,
              "body_html": template.body_html}
    if isinstance(data, dict):
        merged.update({k: v for k, v in data.items() if k in merged})
    name, subject, body = campaigns.parse_template(merged if isinstance(data, dict) else data)
    template.name, template.subject, template.body_html = name, subject, body
    template.updated_at = now()
    return jsonify(template_json(template))


@api.post("/preview")
def preview() -> ResponseReturnValue:
    """Render a subject and body (or a saved template) for a person, without saving anything."""
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
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
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, "must be an integer", where)
    return value


def _preview_person(data: dict[str, Any], errors: Errors, rep: Rep) -> Person | None:
    if isinstance(data.get("person_email"), str):
        person = db().scalar(select(Person).where(
            Person.org_id == rep.org_id, Person.email == data["person_email"].strip().lower()))
        if person is None:
            errors.add("person_email", "no such person")
        return person
    parsed = launches.parse_person(data.get("person") or {"email": "sample@example.com"},
                                   "person", errors)
    if parsed is None:
        return None
    return Person(org_id=rep.org_id, email=parsed.email, first_name=parsed.first_name,
                  last_name=parsed.last_name, company=parsed.company, title=parsed.title,
                  timezone=parsed.timezone, fields=parsed.fields)


# --- feed and me ----------------------------------------------------------------------------


@api.get("/feed")
def get_feed() -> ResponseReturnValue:
    try:
        after = int(request.args.get("after", 0))
        limit = min(int(request.args.get("limit", 100)), 500)
    except ValueError as exc:
        raise ApiError(422, "after and limit must be integers", "after") from exc
    rep = current_rep()
    events = feed.list_events(db(), org_id=rep.org_id, rep_id=None if rep.is_admin else rep.id,
                              after=after, limit=limit)
    return jsonify({"events": [event_json(e) for e in events]})


@api.get("/me")
def me() -> ResponseReturnValue:
    rep = current_rep()
    return jsonify({"id": rep.id, "email": rep.email, "name": rep.name,
                    "timezone": rep.timezone, "is_admin": rep.is_admin,
                    "organisation": {"id": rep.org_id, "name": rep.org.name}})


@api.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    from addin_server.api.openapi import document

    return jsonify(document(runtime().settings.public_base_url))
