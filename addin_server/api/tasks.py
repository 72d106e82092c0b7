"""REST API of tasks: the rep's list (email tasks first), one task, the email task as a compose
window opens it, done and skip. Sending an email task is in sends.py."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.common import api_blueprint, clamped_page, current_rep, owned
from addin_server.api.serializers import task_json
from addin_server.campaigns import templates
from addin_server.enrollments import tasks
from addin_server.enums import StepType, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Task
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, json_body, now, runtime

bp = api_blueprint("api_tasks", __name__)


@bp.get("/tasks")
def list_tasks() -> ResponseReturnValue:
    status = request.args.get("status", "open")
    if status not in {s.value for s in TaskStatus}:
        raise ApiError(422, "must be one of " + ", ".join(s.value for s in TaskStatus), "status")
    limit, offset = clamped_page(200)
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


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    enrollment = db().get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    return jsonify(task_json(task, enrollment.person, enrollment.campaign))


@bp.get("/tasks/<int:task_id>/compose")
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


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    errors = Errors()
    body = json_body() if request.data else None
    outcome, note = tasks.parse_completion(body, task.type, errors)
    errors.raise_if_any()
    changed = tasks.complete_task(db(), task, now(), outcome=outcome, note=note)
    return _task_result(task, changed)


@bp.post("/tasks/<int:task_id>/skip")
def skip_task(task_id: int) -> ResponseReturnValue:
    task = owned(Task, task_id)
    changed = tasks.skip_task(db(), task, now())
    return _task_result(task, changed)


def _task_result(task: Task, changed: bool) -> ResponseReturnValue:
    if not changed and task.status == TaskStatus.CANCELLED:
        raise ApiError(409, "the task was cancelled (the person left the campaign)", "status")
    db().refresh(task)
    return jsonify({"id": task.id, "status": task.status.value, "changed": changed})
