"""The Gmail add-on's HTTP endpoints (Google Workspace add-on, alternate runtime).

Google POSTs an event to each trigger / button URL with `Authorization: Bearer <system ID
token>`; every POST here is verified before anything else (401 otherwise). The rep is the
verified `userIdToken`'s Google account, matched to a rep of ours. Handlers turn the event into
a use case call and a card; the cards themselves are built by the pure functions of
`gmail_addon/`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import send_file
from flask.typing import ResponseReturnValue

import gmail_addon
from addin_server import dates
from addin_server.accounts import may_see_person, rep_today
from addin_server.addins.gmail import drafts as gmail_drafts
from addin_server.addins.gmail import views as gmail_views
from addin_server.addins.gmail.endpoint import addon_blueprint, addon_endpoint, endpoints
from addin_server.addins.gmail.message import message_card
from addin_server.campaigns import templates
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enrollments import tasks
from addin_server.enums import CallOutcome, SendState, StepType, TaskStatus
from addin_server.html_text import html_to_text
from addin_server.models import Enrollment, Rep, Send, Task
from addin_server.runtime import runtime
from addin_server.sending import held
from addin_server.validation import ValidationFailed
from addin_server.web.common import db, now
from gmail_addon import responses
from gmail_addon.events import AddonEvent
from gmail_addon.message_card import HeldEmail, held_card
from gmail_addon.tasks_card import call_outcome_card, homepage_card
from gmail_addon.widgets import Json

log = logging.getLogger(__name__)

LOGO = Path(gmail_addon.__file__).resolve().parent / "logo.png"

bp = addon_blueprint("gmail", __name__)


@bp.get("/logo.png")
def logo() -> ResponseReturnValue:
    return send_file(LOGO, mimetype="image/png", max_age=86400)


# --- homepage and tasks -----------------------------------------------------------------------


def _home(rep: Rep, page: int) -> Json:
    items, total, page = gmail_views.open_tasks_page(db(), rep, page)
    return homepage_card(items, total=total, page=page,
                         today=rep_today(rep, now()), e=endpoints())


@addon_endpoint(bp, "homepage", trigger=True)
def homepage(rep: Rep, event: AddonEvent) -> Json:
    return responses.show(_home(rep, 0))


@addon_endpoint(bp, "page", trigger=False)
def page(rep: Rep, event: AddonEvent) -> Json:
    return responses.replace_card(_home(rep, event.int_param("page") or 0))


def _own_task(rep: Rep, event: AddonEvent) -> Task | None:
    task_id = event.int_param("task_id")
    task = db().get(Task, task_id) if task_id is not None else None
    if task is None or task.org_id != rep.org_id or task.rep_id != rep.id:
        return None
    return task


_GONE = {
    TaskStatus.COMPLETED: "This task is already done.",
    TaskStatus.SKIPPED: "This task was skipped already.",
    TaskStatus.CANCELLED: "This task no longer exists: the person left the campaign.",
}


def _refreshed(rep: Rep, event: AddonEvent, notification: str) -> Json:
    """Redraw the card the click came from (the task list, or the open message's card)."""
    if event.param("view") == "message":
        return responses.replace_card(message_card(rep, event), notification)
    return responses.replace_card(_home(rep, event.int_param("page") or 0), notification)


def _finish(rep: Rep, event: AddonEvent, skip: bool) -> Json:
    task = _own_task(rep, event)
    if task is None:
        return _refreshed(rep, event, "That task was not found.")
    try:
        if skip:
            changed = tasks.skip_task(db(), task, now())
        elif task.type == StepType.CALL and task.status == TaskStatus.OPEN:
            # Done on a call first asks how it went (the card's Save comes back here with it).
            outcome = event.form_value("outcome")
            if outcome not in {o.value for o in CallOutcome}:
                item = gmail_views.task_item(db(), task)
                refresh = {k: event.param(k) for k in ("view", "page") if event.param(k)}
                return responses.replace_card(call_outcome_card(item, endpoints(), refresh))
            changed = tasks.complete_task(db(), task, now(), outcome=CallOutcome(outcome),
                                          note=event.form_value("note").strip()[:tasks.NOTE_MAX])
        else:
            changed = tasks.complete_task(db(), task, now())
    except tasks.EmailStillScheduled as exc:
        when = dates.described(exc.send.due_at, rep.timezone, now())
        return _refreshed(rep, event, f"Not changed: its email is {exc.send.state.value} for "
                          f"{when}; the task completes when it goes.")
    if not changed:
        return _refreshed(rep, event, _GONE.get(task.status, "Nothing changed."))
    return _refreshed(rep, event, "Task skipped." if skip else "Task done.")


@addon_endpoint(bp, "done", trigger=False)
def done(rep: Rep, event: AddonEvent) -> Json:
    return _finish(rep, event, skip=False)


@addon_endpoint(bp, "skip", trigger=False)
def skip(rep: Rep, event: AddonEvent) -> Json:
    return _finish(rep, event, skip=True)


@addon_endpoint(bp, "write", trigger=False)
def write(rep: Rep, event: AddonEvent) -> Json:
    task = _own_task(rep, event)
    if task is None or task.type != StepType.EMAIL:
        return responses.notify("That email task was not found.")
    if task.status != TaskStatus.OPEN:
        return _refreshed(rep, event, _GONE.get(task.status, "This task is closed."))
    try:
        plan, adapter = gmail_drafts.prepare_task_draft(runtime(), db(), rep, task, event)
        # No transaction is held across a call to a mailbox (on SQLite it would hold the write
        # lock, and the local mailbox writes in its own transaction).
        db().commit()
        draft = gmail_drafts.create_draft(runtime(), event, plan, adapter)
    except gmail_drafts.DraftProblem as exc:
        if exc.scopes:
            return responses.request_scopes(exc.scopes)
        return responses.notify(str(exc))
    gmail_drafts.remember_draft(task, draft, now())
    return responses.open_draft(draft.draft_id, draft.thread_id or "",
                                "Draft ready: it completes the task when you send it.")


def _own_enrollment(rep: Rep, event: AddonEvent) -> Enrollment | None:
    eid = event.int_param("enrollment_id")
    enrollment = db().get(Enrollment, eid) if eid is not None else None
    if enrollment is None or enrollment.org_id != rep.org_id or (
            enrollment.rep_id != rep.id and not rep.is_admin):
        return None
    return enrollment


def _change(rep: Rep, event: AddonEvent, what: str) -> Json:
    enrollment = _own_enrollment(rep, event)
    if enrollment is None:
        return _refreshed(rep, event, "That campaign enrolment was not found.")
    campaign = enrollment.campaign.name
    try:
        if what == "pause":
            enrollments.pause(db(), enrollment, now())
            text = f"Paused {campaign}."
        elif what == "resume":
            enrollments.resume(db(), enrollment, now())
            text = f"Resumed {campaign}."
        else:
            enrollments.end(db(), enrollment, now())
            text = f"Stopped {campaign}."
    except enrollments.Conflict as exc:
        text = f"Nothing changed: {exc}."
    db().flush()
    return _refreshed(rep, event, text)


@addon_endpoint(bp, "pause", trigger=False)
def pause(rep: Rep, event: AddonEvent) -> Json:
    return _change(rep, event, "pause")


@addon_endpoint(bp, "resume", trigger=False)
def resume(rep: Rep, event: AddonEvent) -> Json:
    return _change(rep, event, "resume")


@addon_endpoint(bp, "stop", trigger=False)
def stop(rep: Rep, event: AddonEvent) -> Json:
    return _change(rep, event, "stop")


# --- a held email: fill its missing fields and send, send the default text, or skip ----------

# The message card's parameters, carried so that a click redraws it without reading Gmail.
CONTEXT_KEYS = ("view", "people", "cand", "cand_name", "page")


def _own_send(rep: Rep, event: AddonEvent) -> Send | None:
    send_id = event.int_param("send_id")
    send = db().get(Send, send_id) if send_id is not None else None
    enrollment = db().get(Enrollment, send.enrollment_id) if send is not None else None
    if send is None or enrollment is None or enrollment.org_id != rep.org_id or (
            enrollment.rep_id != rep.id and not rep.is_admin):
        return None
    return send


def _held_item(send: Send, enrollment: Enrollment) -> HeldEmail:
    settings = runtime().settings
    try:
        fix = held.held_email(db(), send, base_url=settings.public_base_url,
                              secret_key=settings.secret_key)
    except (templates.PromptsLeft, ValueError) as exc:
        missing: tuple[str, ...] = ()
        text, problem = "", f"The step cannot be written: {exc}. Edit the campaign."
    else:
        missing, text, problem = fix.missing, html_to_text(fix.blank.body_html), ""
    return HeldEmail(send_id=send.id, person=enrollment.person.email,
                     campaign=enrollment.campaign.name, position=send.position,
                     missing=missing, default_text=text, problem=problem)


@addon_endpoint(bp, "held", trigger=False)
def held_email(rep: Rep, event: AddonEvent) -> Json:
    send = _own_send(rep, event)
    if send is None:
        return _refreshed(rep, event, "That email was not found.")
    if send.state != SendState.HELD:
        return _refreshed(rep, event, f"This email is {send.state.value} now, not held.")
    enrollment = db().get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    context = {k: event.param(k) for k in CONTEXT_KEYS if event.param(k)}
    return responses.replace_card(held_card(_held_item(send, enrollment), endpoints(), context))


@addon_endpoint(bp, "release", trigger=False)
def release_send(rep: Rep, event: AddonEvent) -> Json:
    send = _own_send(rep, event)
    if send is None:
        return _refreshed(rep, event, "That email was not found.")
    enrollment = db().get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    use_defaults = event.param("mode") == "defaults"
    given = {} if use_defaults else {name.removeprefix("field_"): values[0] if values else ""
                                     for name, values in event.form.items()
                                     if name.startswith("field_")}
    settings = runtime().settings
    try:
        fields = held.check_fields(given)
        if fields and not may_see_person(rep, enrollment.person):
            return responses.notify("Only the person's owner or an admin changes their fields.")
        held.release(db(), send, now(), fields=fields, use_defaults=use_defaults,
                     base_url=settings.public_base_url, secret_key=settings.secret_key)
    except ValidationFailed as exc:
        return responses.notify("Not sent: " + "; ".join(
            f"{e.field.removeprefix('fields.')} {e.message}" for e in exc.errors))
    except held.NotHeld as exc:
        return _refreshed(rep, event, f"Nothing changed: {exc}.")
    db().flush()
    return _refreshed(rep, event, "The email goes now with the default text." if use_defaults
                      else "Saved: the email goes now.")


@addon_endpoint(bp, "skip_send", trigger=False)
def skip_send(rep: Rep, event: AddonEvent) -> Json:
    send = _own_send(rep, event)
    if send is None:
        return _refreshed(rep, event, "That email was not found.")
    try:
        held.skip(db(), send, now())
    except held.NotHeld as exc:
        return _refreshed(rep, event, f"Nothing changed: {exc}.")
    db().flush()
    return _refreshed(rep, event, "Step skipped: the next step follows.")
