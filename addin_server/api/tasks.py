"""REST API of tasks: the rep's list (email tasks first), one task, the email task as a compose
window opens it, done and skip. Sending an email task is in sends.py."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from addin_server import dates
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep, owned
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import task_json
from addin_server.campaigns import templates
from addin_server.enrollments import tasks
from addin_server.enums import StepType, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Task
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, now, runtime

bp = api_blueprint("api_tasks", __name__)


@bp.get("/tasks")
def list_tasks() -> ResponseReturnValue:
    status = request.args.get("status", "open")
    if status not in {s.value for s in TaskStatus}:
        raise ApiError(422, "must be one of " + ", ".join(s.value for s in TaskStatus), "status")
    limit, offset = clamped_page(200)
    rep = current_rep()
    # Email tasks first (they are the quickest to clear), then by due date.
    order = ((Task.type != StepType.EMAIL), Task.due_date, Task.id)
    page = select(Task.id).where(Task.org_id == rep.org_id, Task.status == TaskStatus(status))
    if not rep.is_admin or request.args.get("mine") == "1":
        page = page.where(Task.rep_id == rep.id)
    # The page's ids first, on the tasks alone; then their rows (joined before the LIMIT, the
    # planner read every enrollment for a page of tasks).
    total = db().scalar(select(func.count()).select_from(page.subquery()))
    page = page.order_by(*order).limit(limit).offset(offset)
    rows = db().execute(
        select(Task, Person, Campaign)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.id.in_(page.scalar_subquery())).order_by(*order)).all()
    return jsonify({"tasks": [task_json(t, p, c) for t, p, c in rows], "total": total})


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
        # In reading order: the subject's, then the body's.
        "prompts": templates.find_prompts(email.subject) + templates.find_prompts(email.body_html),
    })


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int) -> ResponseReturnValue:
    """Done. With the task's email still in the outbox: 409 naming `send` (the task completes
    when the email goes) unless the body says `{"cancel_send": true}`."""
    task = owned(Task, task_id)
    # The body is optional: Done with nothing to say completes the task.
    data = checked_body(bodies.TaskCompleteIn) if request.data else None
    errors = Errors()
    outcome, note = tasks.parse_completion(data, task.type, errors)
    errors.raise_if_any()
    cancel_send = data is not None and data.get("cancel_send") is True
    try:
        changed = tasks.complete_task(db(), task, now(), cancel_send=cancel_send,
                                      outcome=outcome, note=note)
    except tasks.EmailStillScheduled as exc:
        raise _still_scheduled(exc, "send cancel_send: true to cancel it and mark the task "
                               "done") from exc
    return _task_result(task, changed)


@bp.post("/tasks/<int:task_id>/skip")
def skip_task(task_id: int) -> ResponseReturnValue:
    """Skip: the person moves on; an email the rep scheduled for the task is cancelled."""
    task = owned(Task, task_id)
    try:
        changed = tasks.skip_task(db(), task, now())
    except tasks.EmailStillScheduled as exc:
        raise _still_scheduled(exc, "it is being sent and can no longer be cancelled") from exc
    return _task_result(task, changed)


def _still_scheduled(exc: tasks.EmailStillScheduled, advice: str) -> ApiError:
    rep = current_rep()
    when = dates.absolute(exc.send.due_at, rep.timezone)
    return ApiError(409, f"its email (send {exc.send.id}) is {exc.send.state.value} for {when} "
                    f"{rep.timezone}: the task completes when it goes; {advice}", "send")


def _task_result(task: Task, changed: bool) -> ResponseReturnValue:
    if not changed and task.status == TaskStatus.CANCELLED:
        raise ApiError(409, "the task was cancelled (the person left the campaign)", "status")
    db().refresh(task)
    return jsonify({"id": task.id, "status": task.status.value, "changed": changed})
