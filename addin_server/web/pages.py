"""The web app's pages: Command Center, campaigns (builder, launch), compose, Live Feed,
mailboxes. Server-rendered; the pages' scripts call the REST API for every change."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import (
    Blueprint,
    abort,
    current_app,
    get_template_attribute,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from addin_server import dates, row_counts
from addin_server.accounts import may_see_person, rep_today, visible_templates
from addin_server.api import people as people_api
from addin_server.api.serializers import campaign_json, template_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns import templates
from addin_server.campaigns.org_settings import campaign_defaults, may_launch_on, org_settings
from addin_server.campaigns.rendering import build_email
from addin_server.enrollments.status import mailbox_reason
from addin_server.enrollments.tasks import compose
from addin_server.enums import (
    CALL_OUTCOME_LABELS,
    MailboxStatus,
    SendOption,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.models import (
    Attachment,
    Campaign,
    Enrollment,
    Mailbox,
    Send,
    SendLog,
    Task,
    Template,
)
from addin_server.runtime import runtime
from addin_server.sending import held
from addin_server.web import command_center, library, mailboxes_view, results, salesforce
from addin_server.web import feed as feed_view
from addin_server.web import local_mailbox as local_mailbox_view
from addin_server.web.common import ApiError, db, now
from addin_server.web.person_page import person_page_values
from addin_server.web.signin import current_rep, login_required, signed_in_rep

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/app-static")

# The mailbox-connect flow (web/connect_mailbox.py, `GET /connect/<provider>`), by
# Mailbox.provider.
CONNECT_ENDPOINT = "connect.start_in_browser"
CONNECT_PROVIDERS = {"gmail": "google", "microsoft": "microsoft"}
MERGE_FIELDS = ("first_name", "last_name", "company", "title", "sender_name", "unsubscribe_link")


@bp.app_template_filter("localtime")
def _localtime(instant: datetime | str | None, tz: str) -> Markup:
    """An instant in the rep's zone in the one date style (dates.py): a <time> whose text is
    "Tue, 24 Nov at 09:30 (in 2 days)" and whose title is the full date with the zone. Takes
    an ISO string too (what a ReplyContext carries)."""
    if not instant:
        return Markup("")
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        dates.iso(instant), dates.absolute(instant, tz, named=True),
        dates.described(instant, tz, now()))


@bp.app_template_filter("dueday")
def _dueday(day: date | str | None, tz: str) -> Markup:
    """A date without a time (a due day, a start day) in the same style: "Tue, 24 Nov
    (tomorrow)", in a <time>. Takes an ISO date string too (what the API's JSON carries)."""
    if not day:
        return Markup("")
    if isinstance(day, str):
        day = date.fromisoformat(day)
    today = dates.local(now(), tz).date()
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        day.isoformat(), dates.day(day), dates.described_day(day, today))


@bp.app_template_filter("day")
def _day(day: date | str) -> str:
    """A calendar date in the same style: "Tue, 24 Nov 2026" (from an ISO date string too)."""
    return dates.day(date.fromisoformat(day) if isinstance(day, str) else day)


@bp.app_template_filter("localtime_iso")
def _localtime_iso(instant: str | None, tz: str) -> str:
    """An API instant ("2026-11-24T08:00:00Z") in a zone, as the localtime filter shows it."""
    if not instant:
        return ""
    return _localtime(datetime.fromisoformat(instant.replace("Z", "+00:00")), tz)


@bp.app_context_processor
def _layout_values() -> dict[str, Any]:
    if not has_request_context() or request.blueprint not in ("pages", "auth", "rep_settings"):
        return {"rep": None}
    rep = signed_in_rep()
    if rep is None:
        return {"rep": None}
    open_tasks = command_center.due_task_count(db(), rep, now())
    boxes = list(db().scalars(select(Mailbox).where(Mailbox.rep_id == rep.id)))
    mailbox_alert = not boxes or any(mailbox_reason(b, now()) for b in boxes)
    return {"rep": rep, "open_task_count": open_tasks, "mailbox_alert": mailbox_alert,
            "feed_after": feed_view.last_id(db(), rep),
            "feed_panel": feed_view.items(db(), feed_view.latest(
                db(), rep, limit=12, types=feed_view.IMPORTANT), rep.timezone, now())}


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    return redirect(url_for("pages.command"))


# --- Command Center -------------------------------------------------------------------------


@bp.get("/command")
@login_required
def command() -> ResponseReturnValue:
    rep = current_rep()
    view = request.args.get("view", "tasks")
    if view not in ("tasks", "emails", "people"):
        view = "tasks"
    q = request.args.get("q", "").strip()[:200]
    tab = request.args.get("state", "scheduled")
    if tab not in command_center.EMAIL_TABS:
        tab = "scheduled"
    people_status = "all" if request.args.get("status") == "all" else "live"
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    # One campaign's people or emails (a campaign the rep may see; anything else: all).
    own_campaigns = campaigns.campaigns_for(db(), rep)
    wanted = request.args.get("campaign", "")
    campaign_id = next((c.id for c in own_campaigns if str(c.id) == wanted), None)
    # The rep's sends by state, counted once for the Emails count and the Emails tabs.
    by_state = None if q else command_center.send_state_counts(db(), rep, now())
    values: dict[str, Any] = {
        "page": page_no, "page_size": command_center.PAGE,
        "view": view, "q": q, "tab": tab, "people_status": people_status,
        "campaigns": own_campaigns, "campaign_id": campaign_id,
        # What "select all N matching" acts on: the list's own filter (POST /enrollments/bulk).
        "list_filter": {"view": view, "q": q, "status": people_status, "state": tab,
                        "campaign_id": campaign_id},
        "counts": command_center.counts(db(), rep, q, by_state),
        "buckets": command_center.BUCKETS,
        "bucket_titles": command_center.BUCKET_TITLES, "email_tabs": command_center.EMAIL_TABS,
    }
    # Only the view shown is loaded; the other tabs show SQL counts.
    if view == "tasks":
        values["tasks"] = command_center.open_tasks(db(), rep, now(), q, page_no)
        values["total"] = values["counts"].tasks
    elif view == "emails":
        values["email_counts"] = command_center.email_counts(db(), rep, now(), q, by_state,
                                                             campaign_id)
        values["emails"] = command_center.emails(db(), rep, now(), tab, q, page_no,
                                                 campaign_id)
        values["total"] = values["email_counts"][tab]
    else:
        values["people"], values["total"] = command_center.people(
            db(), rep, q, people_status, page_no, live_total=values["counts"].people,
            campaign_id=campaign_id)
    return render_template("command.html", **values)


# --- campaigns ------------------------------------------------------------------------------


@bp.get("/campaigns")
@login_required
def campaign_list() -> ResponseReturnValue:
    rep = current_rep()
    archived = request.args.get("archived") == "1"
    items = campaigns.campaigns_for(db(), rep, archived=archived)
    archived_count = 0 if archived else campaigns.count_archived(db(), rep)
    counts: dict[int, dict[str, int]] = {}
    # (kept by the database as people come and go: row_counts.py)
    for (cid, status), n in row_counts.enrollments_by_status(
            db(), campaign_ids=[c.id for c in items]).items():
        counts.setdefault(cid, {})[status.value] = n
    return render_template("campaigns.html", campaigns=items, counts=counts,
                           archived=archived, archived_count=archived_count)


def _builder(campaign: Campaign | None) -> ResponseReturnValue:
    rep = current_rep()
    saved = list(db().scalars(select(Template).where(visible_templates(rep))
                              .order_by(Template.name)))
    data = campaign_json(campaign) if campaign else None
    # A new campaign starts from the organisation's settings (the settings page).
    return render_template(
        "builder.html", campaign=campaign, campaign_data=data,
        templates=[template_json(t) for t in saved],
        timezones=sorted(available_timezones()),
        default_timezone=org_settings(rep.org.settings)["default_timezone"]
        or rep.timezone or "UTC",
        default_settings=campaign_defaults(rep.org.settings),
        merge_fields=MERGE_FIELDS,
    )


@bp.get("/campaigns/new")
@login_required
def campaign_new() -> ResponseReturnValue:
    return _builder(None)


def _owned_campaign(campaign_id: int) -> Campaign:
    rep = current_rep()
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or campaign.org_id != rep.org_id or (
        not rep.is_admin and campaign.rep_id != rep.id
    ):
        abort(404)
    return campaign


def _launchable_campaign(campaign_id: int) -> Campaign:
    """As api.common.launchable: a colleague's campaign too when the organisation says so."""
    rep = current_rep()
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or campaign.org_id != rep.org_id or not may_launch_on(
            rep.is_admin, rep.id, campaign.rep_id, rep.org.settings):
        abort(404)
    return campaign


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign_edit(campaign_id: int) -> ResponseReturnValue:
    return _builder(_owned_campaign(campaign_id))


@bp.get("/campaigns/<int:campaign_id>/results")
@login_required
def campaign_results(campaign_id: int) -> ResponseReturnValue:
    """The campaign's home: its results (the editor stays at /campaigns/<id>)."""
    return results.page(_owned_campaign(campaign_id), current_rep())


@bp.get("/campaigns/<int:campaign_id>/results.csv")
@login_required
def campaign_results_csv(campaign_id: int) -> ResponseReturnValue:
    return results.csv_download(_owned_campaign(campaign_id), current_rep())


@bp.get("/campaigns/<int:campaign_id>/launch")
@login_required
def campaign_launch(campaign_id: int) -> ResponseReturnValue:
    campaign = _launchable_campaign(campaign_id)
    first_email = next((s for s in campaign.steps if s.type == StepType.EMAIL), None)
    option = first_email.send_option.value if first_email and first_email.send_option else None
    today = now().astimezone(ZoneInfo(campaign.timezone)).date()
    return render_template(
        "launch.html", campaign=campaign, first_email=first_email, first_option=option,
        needs_time=option == SendOption.CHOOSE_AT_LAUNCH.value,
        may_time=option in (SendOption.CHOOSE_AT_LAUNCH.value, SendOption.FIXED_TIME.value),
        today=today, max_people=runtime().settings.max_people_per_launch,
    )


# --- compose --------------------------------------------------------------------------------


def _owned_task(task_id: int) -> Task:
    rep = current_rep()
    task = db().get(Task, task_id)
    if task is None or task.org_id != rep.org_id or (not rep.is_admin and task.rep_id != rep.id):
        abort(404)
    return task


@bp.get("/tasks/<int:task_id>")
@login_required
def task_page(task_id: int) -> ResponseReturnValue:
    """An email task opens the compose window; other tasks show their instructions."""
    rep = current_rep()
    task = _owned_task(task_id)
    enrollment = db().get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    email = missing = None
    if task.type == StepType.EMAIL and task.status == TaskStatus.OPEN:
        settings = runtime().settings
        # A field the person lacks stays as {{name}} in the text, for the rep to replace
        # (sending it unreplaced is refused naming the field), rather than no window at all.
        email = compose(db(), task, rep, base_url=settings.public_base_url,
                        secret_key=settings.secret_key, missing_fields="keep")
        missing = list(email.missing)
    send = db().scalar(select(Send).where(Send.task_id == task.id))
    mailbox = db().scalars(select(Mailbox).where(Mailbox.rep_id == rep.id)
                           .order_by(Mailbox.id.desc())).first()
    return render_template(
        "task.html", task=task, enrollment=enrollment, person=enrollment.person,
        campaign=enrollment.campaign, step=enrollment.campaign.steps[task.position],
        email=email, body_html=templates.sanitize_html(email.body_html) if email else "",
        prompts=(templates.find_prompts(email.subject) + templates.find_prompts(email.body_html))
        if email else [],
        missing=missing, send=send, mailbox=mailbox,
        mailbox_problem=mailbox_reason(mailbox, now()),
        next_task_id=command_center.next_task_id(db(), rep, task),
        call_outcomes=[(o.value, label) for o, label in CALL_OUTCOME_LABELS.items()],
        call_outcome_labels={o.value: label for o, label in CALL_OUTCOME_LABELS.items()},
        today=rep_today(rep, now()),
        tomorrow=rep_today(rep, now()) + timedelta(days=1),
    )


# --- the library: templates, suppressions, the organisation (web/library.py) ----------------


@bp.get("/templates")
@login_required
def templates_page() -> ResponseReturnValue:
    return library.templates_page(current_rep())


@bp.get("/suppressions")
@login_required
def suppressions_page() -> ResponseReturnValue:
    return library.suppressions_page(current_rep())


@bp.get("/settings/organisation")
@login_required
def organisation_page() -> ResponseReturnValue:
    return library.organisation_page(current_rep())


# --- Live Feed ------------------------------------------------------------------------------


@bp.get("/feed")
@login_required
def feed_page() -> ResponseReturnValue:
    rep = current_rep()
    events = feed_view.latest(db(), rep, limit=200, types=None)
    return render_template("feed.html", items=feed_view.items(db(), events, rep.timezone, now()),
                           kinds=list(feed_view.KINDS))


@bp.get("/nav/counts")
@login_required
def nav_counts() -> ResponseReturnValue:
    """The navigation's badge, refreshed by app.js after an action and every half minute."""
    return jsonify({"due_tasks": command_center.due_task_count(db(), current_rep(), now())})


@bp.get("/feed/poll")
@login_required
def feed_poll() -> ResponseReturnValue:
    """New events as rendered rows, for the feed page and the compact panel."""
    rep = current_rep()
    try:
        after_id = max(int(request.args.get("after", 0)), 0)
    except ValueError:
        after_id = 0
    compact = request.args.get("compact") == "1"
    events, cursor, more = feed_view.after(db(), rep, after_id,
                                     types=feed_view.IMPORTANT if compact else None)
    rows = feed_view.items(db(), events, rep.timezone, now())
    macro = get_template_attribute("_feed.html", "feed_item")
    return jsonify({
        "after": cursor,
        "more": more,
        "items": [{"id": i.id, "kind": i.kind, "html": str(macro(i, compact))}
                  for i in rows],
    })


# --- mailboxes ------------------------------------------------------------------------------


def _connect_url(provider: str) -> str | None:
    """The connect link for a provider, when that flow is installed and configured."""
    settings = runtime().settings
    configured = {"gmail": settings.google_client_id,
                  "microsoft": settings.microsoft_client_id}.get(provider)
    if CONNECT_ENDPOINT not in current_app.view_functions or not configured:
        return None
    return url_for(CONNECT_ENDPOINT, provider=CONNECT_PROVIDERS[provider])


@bp.get("/mailboxes")
@login_required
def mailboxes() -> ResponseReturnValue:
    rep = current_rep()
    return render_template(
        "mailboxes.html", **mailboxes_view.page_context(db(), rep, now()),
        connect={p: _connect_url(p) for p in CONNECT_PROVIDERS},
        connected=MailboxStatus.CONNECTED, now=now(),
    )


# --- a person ----------------------------------------------------------------------------------


@bp.get("/people/<int:person_id>")
@login_required
def person_page(person_id: int) -> ResponseReturnValue:
    """Everything about one person: fields (editable by the owner or an admin), other
    addresses, every campaign with each step's why, the thread, and the actions."""
    rep = current_rep()
    try:
        person, editable = people_api.viewable_person(person_id, rep)
    except ApiError:
        abort(404)
    return render_template("person.html", **person_page_values(
        db(), rep, person, people_api.person_detail(person, editable, rep)),
        timezones=sorted(available_timezones()))


# --- the local development mailbox ------------------------------------------------------------


@bp.get("/mailbox")
@login_required
def local_mailbox() -> ResponseReturnValue:
    """What the rep's local development mailbox holds: what it sent and what arrived."""
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    rows, total = local_mailbox_view.messages(db(), current_rep(), page_no)
    return render_template("mailbox.html", messages=rows, total=total, page=page_no,
                           page_size=local_mailbox_view.PAGE)


@bp.get("/mailbox/<int:message_id>")
@login_required
def local_message(message_id: int) -> ResponseReturnValue:
    found = local_mailbox_view.message(db(), current_rep(), message_id)
    if found is None:
        abort(404)
    return render_template("mailbox_message.html", message=found)


@bp.get("/salesforce")
@login_required
def salesforce_page() -> ResponseReturnValue:
    """The rep's Salesforce connection: connect / reconnect, its state, the org's daily API
    allocation used, the sync backlog, the last error (web/salesforce.py reads it)."""
    rep = current_rep()
    configured = bool(runtime().settings.salesforce_client_id)
    return render_template("salesforce.html", status=salesforce.connection_status(db(), rep),
                           configured=configured)


# --- one email, as sent or as it will be sent ---------------------------------------------------


@bp.get("/sends/<int:send_id>")
@login_required
def send_page(send_id: int) -> ResponseReturnValue:
    """An email from the Emails tab: what went (or what will go, rendered now for an automatic
    one not yet claimed), its history, and, until it is claimed, reschedule and cancel."""
    rep = current_rep()
    send = db().get(Send, send_id)
    enrollment = db().get(Enrollment, send.enrollment_id) if send else None
    if send is None or enrollment is None or enrollment.org_id != rep.org_id or (
            not rep.is_admin and enrollment.rep_id != rep.id):
        abort(404)
    subject, body, problem = send.subject, send.body_html, ""
    settings = runtime().settings
    fix = None
    if send.state == SendState.HELD and send.task_id is None:
        try:
            fix = held.held_email(db(), send, base_url=settings.public_base_url,
                                  secret_key=settings.secret_key)
            subject, body = fix.marked.subject, fix.marked.body_html
        except (templates.PromptsLeft, ValueError) as exc:
            problem = f"cannot be written: {exc}: edit the campaign's step"
    elif not body and send.task_id is None:
        try:
            email = build_email(db(), enrollment, enrollment.campaign.steps[send.position], rep,
                                base_url=settings.public_base_url,
                                secret_key=settings.secret_key, keep_prompts=True)
            subject, body = email.subject, email.body_html
        except (templates.MissingFields, ValueError) as exc:
            problem = f"cannot be written yet: {exc}"
    history = db().scalars(select(SendLog).where(SendLog.send_id == send.id)
                           .order_by(SendLog.id))
    # The copies it carries: stored on the send once claimed (or set in compose), else the
    # step's; and the files attached in compose.
    step = enrollment.campaign.steps[send.position]
    copied = send.cc is not None or send.bcc is not None or send.task_id is not None
    files = db().execute(select(Attachment.filename, Attachment.size)
                         .where(Attachment.send_id == send.id).order_by(Attachment.id)).all()
    person = enrollment.person
    return render_template(
        "send.html", send=send, enrollment=enrollment, person=person,
        campaign=enrollment.campaign, subject=subject, problem=problem,
        cc=(send.cc if copied else step.cc) or [], bcc=(send.bcc if copied else step.bcc) or [],
        files=[tuple(f) for f in files],
        body_html=body if fix else templates.sanitize_html(body), history=list(history),
        editable=send.state.value in ("scheduled", "held"), fix=fix,
        may_edit_person=may_see_person(rep, person),
        field_values={name: held.field_value(person, name) for name in
                      (fix.missing if fix else ())})
