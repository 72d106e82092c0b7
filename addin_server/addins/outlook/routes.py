"""The Outlook add-in: its task pane (static files from outlook_addin/) and the pane's API.

The pane's API is the REST API's own views (same JSON, same ownership rules: 404 for anything
of another rep or organisation) behind another authentication: a Microsoft Entra token for our
API, checked by outlook_auth, instead of an API token. A few pane-only answers sit beside them:
the sender's campaign status, the campaigns offered in "add to campaign", the pane's config.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request, send_from_directory
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.wrappers import Response

from addin_server import dates
from addin_server.accounts import rep_today, visible_people
from addin_server.addins.outlook.auth import (
    KeysUnavailable,
    TokenRejected,
    TokenValidator,
    rep_for_identity,
    scope_uri,
)
from addin_server.api import campaigns as api_campaigns
from addin_server.api import me as api_me
from addin_server.api import sends as api_sends
from addin_server.api import tasks as api_tasks
from addin_server.api.common import current_rep, owned
from addin_server.api.serializers import enrollment_json, person_json
from addin_server.campaigns import rendering as content
from addin_server.campaigns import service as campaigns
from addin_server.campaigns import templates
from addin_server.enrollments.sent_items import sync_rep
from addin_server.enums import SendOption, StepType
from addin_server.models import Campaign, Enrollment, Person, Task
from addin_server.runtime import runtime
from addin_server.validation import SUBJECT_MAX, Errors, parse_email
from addin_server.web.common import ApiError, bearer_token, db, json_body, now

ADDIN_DIR = Path(__file__).resolve().parents[3] / "outlook_addin"
# Outlook on the web and the new Outlook host the pane in an iframe on these origins.
FRAME_ANCESTORS = (
    "'self' https://outlook.office.com https://outlook.office365.com https://outlook.live.com "
    "https://outlook.cloud.microsoft https://*.outlook.com https://*.office.com "
    "https://*.office365.com https://*.cloud.microsoft"
)
# Outlook's own limits on what displayNewMessageForm / displayReplyForm accept.
MAX_SUBJECT = SUBJECT_MAX  # the limit every subject is validated to (validation.py)
MAX_FORM_BODY = 32 * 1024
PUBLIC_ENDPOINTS = {"outlook.config", "outlook.dev_token"}

bp = Blueprint("outlook", __name__, url_prefix="/outlook")


def _validator() -> TokenValidator:
    validator: TokenValidator = current_app.extensions["outlook_auth"]
    return validator


# --- the pane's pages and files ---------------------------------------------------------------


OFFICE_JS_ORIGIN = "https://appsforoffice.microsoft.com"


@bp.after_request
def _frame_headers(response: Response) -> Response:
    # Never X-Frame-Options here: Outlook frames the pane. Who may frame it is said by CSP.
    response.headers.pop("X-Frame-Options", None)
    # No inline script here either: the pane's scripts are files of ours and office.js.
    response.headers["Content-Security-Policy"] = (
        f"script-src 'self' {OFFICE_JS_ORIGIN}; object-src 'none'; base-uri 'self'; "
        f"frame-ancestors {FRAME_ANCESTORS}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/outlook/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/taskpane.html")
def taskpane() -> ResponseReturnValue:
    return send_from_directory(ADDIN_DIR, "taskpane.html", max_age=0)


@bp.get("/auth-dialog.html")
def auth_dialog() -> ResponseReturnValue:
    return send_from_directory(ADDIN_DIR, "auth-dialog.html", max_age=0)


@bp.get("/static/<path:name>")
def static(name: str) -> ResponseReturnValue:
    # Icons must be cacheable for Outlook to show them; scripts change with releases.
    max_age = 86400 if name.startswith("icons/") else 300
    return send_from_directory(ADDIN_DIR, name, max_age=max_age)


# --- authentication -------------------------------------------------------------------------


@bp.before_request
def _authenticate() -> None:
    if not request.path.startswith("/outlook/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = bearer_token()
    if not token:
        raise ApiError(401, "sign in first (Authorization: Bearer <token>)", "Authorization")
    try:
        identity = _validator().validate(token, now())
    except TokenRejected as exc:
        raise ApiError(401, str(exc), "Authorization") from exc
    except KeysUnavailable as exc:
        raise ApiError(503, str(exc), "Authorization") from exc
    rep = rep_for_identity(db(), identity, runtime().settings.outlook_allowed_tenants)
    if rep is None:
        who = identity.username or identity.oid
        raise ApiError(403, f"no rep is linked to the Microsoft account {who}: ask an admin "
                       "to add you", "Authorization")
    g.rep = rep


@bp.get("/api/config")
def config() -> ResponseReturnValue:
    """What the pane needs before it signs in."""
    settings = runtime().settings
    return jsonify({
        "client_id": settings.outlook_client_id or settings.outlook_api_audience,
        "authority": settings.microsoft_authority,
        "scopes": [scope_uri(settings)],
        "dev_mode": settings.dev_mode,
        "dialog_url": f"{settings.public_base_url}/outlook/auth-dialog.html",
        "limits": {"subject": MAX_SUBJECT, "form_body": MAX_FORM_BODY},
    })


@bp.post("/api/dev/token")
def dev_token() -> ResponseReturnValue:
    """Development mode only: a locally signed token for a rep's address (no Entra needed)."""
    validator = _validator()
    if validator.dev_key is None:
        raise ApiError(404, "not found")
    data = json_body()
    errors = Errors()
    email = parse_email(data.get("email") if isinstance(data, dict) else None, "email", errors)
    errors.raise_if_any()
    assert email is not None
    token = validator.dev_key.issue(runtime().settings, email, now())
    return jsonify({"access_token": token, "token_type": "Bearer"})


# --- the pane's API -------------------------------------------------------------------------


@bp.get("/api/me")
def me() -> ResponseReturnValue:
    return api_me.me()


@bp.get("/api/tasks")
def list_tasks() -> ResponseReturnValue:
    """The API's list, each task with its due day as the product writes dates ("Wed, 25 Nov
    (tomorrow)", in the rep's zone: dates.py), which the pane shows as is."""
    response = api_tasks.list_tasks()
    assert isinstance(response, Response)
    data = response.get_json()
    today = rep_today(current_rep(), now())
    for task in data.get("tasks", []):
        task["due_text"] = dates.described_day(date.fromisoformat(task["due_date"]), today)
    return jsonify(data)


@bp.get("/api/tasks/<int:task_id>/compose")
def compose(task_id: int) -> ResponseReturnValue:
    response = api_tasks.compose_task(task_id)
    assert isinstance(response, Response)
    data = response.get_json()
    # A reply opened on the previous message through Outlook's reply form: Outlook quotes the
    # earlier message itself, so the pane needs the new text without our quote.
    data["reply_body_html"] = _reply_body(task_id) if data.get("reply_to") else None
    data["limits"] = {"subject": MAX_SUBJECT, "form_body": MAX_FORM_BODY}
    return jsonify(data)


def _reply_body(task_id: int) -> str:
    task = owned(Task, task_id)
    enrollment = db().get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    step = enrollment.campaign.steps[task.position]
    settings = runtime().settings
    values = content.merge_values(enrollment.person, current_rep(),
                                  base_url=settings.public_base_url,
                                  secret_key=settings.secret_key)
    return templates.render(content.step_source(step)[1], values, html=True, keep_prompts=True)


@bp.post("/api/tasks/<int:task_id>/complete")
def complete(task_id: int) -> ResponseReturnValue:
    return api_tasks.complete_task(task_id)


@bp.post("/api/tasks/<int:task_id>/skip")
def skip(task_id: int) -> ResponseReturnValue:
    return api_tasks.skip_task(task_id)


@bp.get("/api/sends/<int:send_id>")
def get_send(send_id: int) -> ResponseReturnValue:
    """A send; a held one with its missing fields and the email both ways (the pane's fix)."""
    return api_sends.get_send(send_id)


@bp.post("/api/sends/<int:send_id>/release")
def release_send(send_id: int) -> ResponseReturnValue:
    return api_sends.release(send_id)


@bp.post("/api/sends/<int:send_id>/skip")
def skip_send(send_id: int) -> ResponseReturnValue:
    return api_sends.skip(send_id)


@bp.post("/api/sync-sent")
def sync_sent() -> ResponseReturnValue:
    """Complete the rep's email tasks already sent from Outlook (found in Sent Items)."""
    rep_id = current_rep().id
    db().commit()  # a first sign-in's link is written before the sync's own transactions
    matches = sync_rep(runtime(), rep_id)
    return jsonify({"completed": [m.task_id for m in matches]})


@bp.get("/api/contacts")
def contact_status() -> ResponseReturnValue:
    """The open message's sender: who they are to us and each of their campaigns."""
    errors = Errors()
    email = parse_email(request.args.get("email"), "email", errors)
    errors.raise_if_any()
    rep = current_rep()
    person = db().scalar(select(Person).where(visible_people(rep), Person.email == email))
    if person is None:
        return jsonify({"email": email, "person": None, "enrollments": []})
    query = select(Enrollment).where(Enrollment.person_id == person.id,
                                     Enrollment.org_id == rep.org_id)
    if not rep.is_admin:
        query = query.where(Enrollment.rep_id == rep.id)
    rows = db().scalars(query.order_by(Enrollment.id.desc()).limit(20))
    return jsonify({
        "email": email,
        "person": person_json(person),
        "enrollments": [{**enrollment_json(e), "campaign_name": e.campaign.name}
                        for e in rows],
    })


def first_send_at_need(campaign: Campaign) -> str:
    """Whether a launch of this campaign needs first_send_at: required, optional or none."""
    first = next((s for s in campaign.steps if s.type == StepType.EMAIL), None)
    if first is None or first.send_option == SendOption.MANUAL_TASK:
        return "none"
    return "required" if first.send_option == SendOption.CHOOSE_AT_LAUNCH else "optional"


@bp.get("/api/campaigns")
def list_campaigns() -> ResponseReturnValue:
    items = [c for c in campaigns.campaigns_for(db(), current_rep()) if not c.archived]
    return jsonify({"campaigns": [
        {"id": c.id, "name": c.name, "timezone": c.timezone,
         "first_send_at": first_send_at_need(c)}
        for c in items
    ]})


@bp.post("/api/campaigns/<int:campaign_id>/launch")
def launch(campaign_id: int) -> ResponseReturnValue:
    return api_campaigns.launch_campaign(campaign_id)
