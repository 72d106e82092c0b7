"""REST API of campaigns: list, create, read, change; launch people into one; who is in it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import dates, row_counts
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep, launchable, owned
from addin_server.api.launches import forecast_json, launch_json
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import campaign_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.org_settings import campaign_defaults, org_settings
from addin_server.enrollments import campaign_actions, live_edit
from addin_server.enrollments import launch as launches
from addin_server.enrollments.checks import dns_mx_check
from addin_server.enrollments.people import (
    Invalid,
    decode_csv,
    parse_columns,
    parse_people,
    read_csv,
)
from addin_server.errors import Conflict
from addin_server.guard.breakers import release_campaign
from addin_server.models import Campaign, Enrollment, Person
from addin_server.sending.foresight import launch_forecast
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, now, runtime
from addin_server.workers import launches as background

bp = api_blueprint("api_campaigns", __name__)


@bp.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    """Campaigns not archived; `?archived=true` the archived ones instead; a page at a time
    (200 by default) with how many in all."""
    errors = Errors()
    archived = _flag(request.args.get("archived"), "archived", errors)
    errors.raise_if_any()
    limit, offset = clamped_page(200)
    items, total = campaigns.campaigns_page(db(), current_rep(), limit, offset,
                                            archived=archived)
    return jsonify({"campaigns": [campaign_json(c) for c in items], "total": total})


@bp.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    rep = current_rep()
    data = checked_body(bodies.CampaignIn)
    # A new campaign starts from the organisation's settings; those the body gives win.
    org = org_settings(rep.org.settings)
    given: dict[str, Any] = data["settings"] if isinstance(data.get("settings"), dict) else {}
    data = {**data, "settings": {**campaign_defaults(rep.org.settings), **given}}
    spec = parse_campaign(data, default_timezone=org["default_timezone"] or rep.timezone)
    campaign = campaigns.create_campaign(db(), rep, spec, now())
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> ResponseReturnValue:
    return jsonify(campaign_json(owned(Campaign, campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>")
def patch_campaign(campaign_id: int) -> ResponseReturnValue:
    """Change a campaign; the change reaches the people in it (`live_edit`: how many, and what
    moved). `?dry_run=true` answers the same and writes nothing, for a confirm."""
    campaign = owned(Campaign, campaign_id)
    errors = Errors()
    dry_run = _flag(request.args.get("dry_run"), "dry_run", errors)
    errors.raise_if_any()
    data = checked_body(bodies.CampaignPatch)
    session = db()
    # The dry run is the real change inside a savepoint, rolled back: it cannot drift from it.
    savepoint = session.begin_nested() if dry_run else None
    try:
        before = live_edit.snapshot(campaign)
        campaigns.update_campaign(session, campaign, data, now())
        impact = live_edit.apply_change(session, campaign, before, now())
        body = {**campaign_json(campaign), "live_edit": {**impact.json(), "dry_run": dry_run}}
    finally:
        if savepoint is not None:
            savepoint.rollback()
    return jsonify(body)


def _people_json(campaign: Campaign) -> dict[str, int]:
    counts = campaign_actions.live_counts(db(), campaign.id)
    return {"active": counts.active, "paused": counts.paused,
            "paused_with_campaign": counts.paused_with_campaign}


@bp.get("/campaigns/<int:campaign_id>/people")
def campaign_people(campaign_id: int) -> ResponseReturnValue:
    """How many people each campaign action would touch (what a confirm shows)."""
    return jsonify(_people_json(owned(Campaign, campaign_id)))


def _acted(campaign: Campaign, action: str, affected: int) -> ResponseReturnValue:
    return jsonify({"action": action, "affected": affected, "people": _people_json(campaign),
                    "campaign": campaign_json(campaign)})


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause_campaign(campaign_id: int) -> ResponseReturnValue:
    """Pause everyone active in the campaign: nothing more goes out until resumed (a send a
    worker already took finishes)."""
    campaign = owned(Campaign, campaign_id)
    return _acted(campaign, "pause", campaign_actions.pause_campaign(db(), campaign, now()))


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume_campaign(campaign_id: int) -> ResponseReturnValue:
    """Resume the people the campaign pause paused (not those paused one by one)."""
    campaign = owned(Campaign, campaign_id)
    return _acted(campaign, "resume", campaign_actions.resume_campaign(db(), campaign, now()))


@bp.post("/campaigns/<int:campaign_id>/stop")
def stop_campaign(campaign_id: int) -> ResponseReturnValue:
    """End everyone still in the campaign; their scheduled emails and open tasks are
    cancelled."""
    campaign = owned(Campaign, campaign_id)
    return _acted(campaign, "stop", campaign_actions.stop_campaign(db(), campaign, now()))


@bp.post("/campaigns/<int:campaign_id>/clone")
def clone_campaign(campaign_id: int) -> ResponseReturnValue:
    """A copy with the same steps and settings and nobody in it, named "... (copy)", owned
    by the caller."""
    campaign = owned(Campaign, campaign_id)
    copy = campaigns.clone_campaign(db(), current_rep(), campaign, now())
    return jsonify(campaign_json(copy)), 201, {"Location": f"/api/v1/campaigns/{copy.id}"}


@bp.post("/campaigns/<int:campaign_id>/archive")
def archive_campaign(campaign_id: int) -> ResponseReturnValue:
    """Hide the campaign from the lists; refused (409) while people are in it."""
    return _set_archived(campaign_id, True)


@bp.post("/campaigns/<int:campaign_id>/unarchive")
def unarchive_campaign(campaign_id: int) -> ResponseReturnValue:
    """Bring an archived campaign back to the lists."""
    return _set_archived(campaign_id, False)


def _set_archived(campaign_id: int, archived: bool) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    live = campaign_actions.live_counts(db(), campaign.id).live
    try:
        campaigns.set_archived(db(), campaign, archived, live, now())
    except Conflict as exc:
        raise ApiError(409, str(exc), "campaign_id") from exc
    return jsonify(campaign_json(campaign))


def _flag(value: Any, name: str, errors: Errors) -> bool:
    if value in (None, "", "false", "0", False):
        return False
    if value in ("true", "1", True):
        return True
    errors.add(name, "must be true or false")
    return False


@bp.post("/campaigns/<int:campaign_id>/breaker/release")
def release_campaign_breaker(campaign_id: int) -> ResponseReturnValue:
    """A person lets a campaign whose bounce breaker tripped start new people again."""
    campaign = owned(Campaign, campaign_id)
    if not campaign.guard_reason:
        raise ApiError(409, "this campaign's bounce breaker has not tripped", "campaign_id")
    release_campaign(db(), campaign, now(), by=current_rep().email)
    return jsonify(campaign_json(campaign))


@bp.post("/campaigns/<int:campaign_id>/launch")
def launch_campaign(campaign_id: int) -> ResponseReturnValue:
    """Launch people (JSON list, a CSV body or a JSON `csv` string); `dry_run` writes nothing
    and answers with the forecast as well."""
    campaign = launchable(campaign_id)
    if campaign.archived:
        raise ApiError(409, "the campaign is archived: unarchive it to add people",
                       "campaign_id")
    settings = runtime().settings
    limit = settings.max_people_per_launch
    errors = Errors()
    invalid: list[Invalid] = []
    columns: dict[str, str] = {}
    if request.mimetype == "text/csv":
        data: dict[str, Any] = dict(request.args)
        try:
            data["columns"] = json.loads(data["columns"]) if data.get("columns") else None
        except ValueError:
            errors.add("columns", "must be a JSON object")
            data["columns"] = None
        text: str | None = decode_csv(request.get_data(as_text=False))
    else:
        data = checked_body(bodies.LaunchIn)
        text = data.get("csv") if isinstance(data.get("csv"), str) else None
    dry_run = _flag(data.get("dry_run"), "dry_run", errors)
    skip_invalid = _flag(data.get("skip_invalid"), "skip_invalid", errors)
    # A dry run shows when a past time would send (everyone at once); a launch asks first.
    past_ok = dry_run or _flag(data.get("send_past_now"), "send_past_now", errors)
    if text is not None:
        parsed = read_csv(text, errors, skip_invalid=skip_invalid,
                          limit=settings.max_people_per_background_launch,
                          columns=parse_columns(data.get("columns"), errors))
        people, invalid, columns = parsed.people, parsed.invalid, parsed.columns
        if len(people) > limit and not dry_run:
            options = launches.parse_options(data, errors)
            if not past_ok:
                _refuse_past_first_send(campaign, options.first_send_at, errors)
            errors.raise_if_any()
            return _in_background(campaign, len(people), {
                "csv": text, "skip_invalid": skip_invalid, "columns": data.get("columns"),
                "options": {k: data.get(k) for k in ("start_date", "first_send_at",
                                                     "check_mx")}})
    else:
        people = parse_people(data.get("people"), errors, limit=limit)
    options = launches.parse_options(data, errors)
    if not past_ok:
        _refuse_past_first_send(campaign, options.first_send_at, errors)
    errors.raise_if_any()
    session, rep = db(), current_rep()
    has_mx = dns_mx_check(settings.mx_nameservers, settings.mx_timeout_seconds)
    if not dry_run:
        result = launches.launch(session, rep, campaign, people, options, now(), has_mx)
        return jsonify(launch_json(result, invalid, columns)), 201
    # The real launch inside a savepoint, forecast from the rows it wrote, then rolled back:
    # the dry run cannot drift from what a launch does.
    savepoint = session.begin_nested()
    try:
        result = launches.launch(session, rep, campaign, people, options, now(), has_mx)
        session.flush()
        forecast = launch_forecast(session, rep, campaign, {i for i, _, _ in result.enrolled},
                                   now())
        emails = {i: e for i, e, _ in result.enrolled}
        body = launch_json(result, invalid, columns)
        body.update(dry_run=True, forecast=forecast_json(forecast, campaign, emails))
    finally:
        savepoint.rollback()
    return jsonify(body), 200


# The launch form's time is picked to the minute: a few seconds behind the clock is "now".
PAST_GRACE = timedelta(seconds=60)


def _refuse_past_first_send(campaign: Campaign, first: datetime | None, errors: Errors) -> None:
    """A first-email time already past would email the whole list at once (a typo of 08:00 for
    18:00): refused unless the client says so with send_past_now."""
    if first is None or first >= now() - PAST_GRACE:
        return
    tz = ZoneInfo(campaign.timezone)
    shown = dates.absolute(first, tz.key)
    errors.add("first_send_at", f"is in the past ({shown}; it is now "
               f"{dates.absolute(now(), tz.key)} {campaign.timezone}): "
               "every first email would go at once. Pick a later time, or send "
               "send_past_now: true to send them now")


def _in_background(campaign: Campaign, total: int, launch_input: dict[str, Any]
                   ) -> ResponseReturnValue:
    """202 and the launch id: workers/launches.py runs it."""
    rt = runtime()
    launch_id = background.start(rt.redis(), rt.settings.queue_name, current_rep(), campaign,
                                 total, launch_input)
    return jsonify({"launch_id": launch_id, "status": "queued", "total": total}), 202, {
        "Location": f"/api/v1/launches/{launch_id}"}


@bp.get("/launches/<launch_id>")
def launch_status(launch_id: str) -> ResponseReturnValue:
    """A background launch's progress; its outcome once done (or why it failed)."""
    record = background.status(runtime().redis(), launch_id)
    rep = current_rep()
    if record is None or int(record["org_id"]) != rep.org_id or (
            int(record["rep_id"]) != rep.id and not rep.is_admin):
        raise ApiError(404, "no such launch")
    body: dict[str, Any] = {"id": launch_id, "status": record["status"],
                            "total": int(record["total"]), "done": int(record["done"]),
                            "phase": record["phase"], "reason": record["reason"] or None,
                            "campaign_id": int(record["campaign_id"])}
    if record.get("result"):
        body.update(json.loads(record["result"]))
    return jsonify(body)


@bp.get("/campaigns/<int:campaign_id>/enrollments")
def campaign_enrollments(campaign_id: int) -> ResponseReturnValue:
    """Who is in the campaign, one page at a time (`limit`, 200 by default, and `offset`) by
    enrollment id (on ix_enrollments_campaign_id_id), and how many in all (row_counts)."""
    campaign = owned(Campaign, campaign_id)
    limit, offset = clamped_page(200)
    page = (select(Enrollment.id).where(Enrollment.campaign_id == campaign.id)
            .order_by(Enrollment.id).limit(limit).offset(offset).subquery())
    rows = db().execute(
        select(Enrollment.id, Enrollment.status, Person.email)
        .join(page, page.c.id == Enrollment.id)
        .join(Person, Person.id == Enrollment.person_id)
        .order_by(Enrollment.id)
    )
    total = sum(row_counts.enrollments_by_status(db(), campaign_ids=[campaign.id]).values())
    return jsonify({"enrollments": [
        {"id": i, "status": s.value, "email": e} for i, s, e in rows
    ], "total": total})
