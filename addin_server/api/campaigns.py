"""REST API of campaigns: list, create, read, change; launch people into one; who is in it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server import row_counts
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, clamped_page, current_rep, owned
from addin_server.api.launches import forecast_json, launch_json
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import campaign_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns.definition import parse_campaign
from addin_server.enrollments import launch as launches
from addin_server.enrollments.checks import dns_mx_check
from addin_server.enrollments.people import (
    Invalid,
    decode_csv,
    parse_columns,
    parse_people,
    read_csv,
)
from addin_server.guard.breakers import release_campaign
from addin_server.models import Campaign, Enrollment, Person
from addin_server.sending.foresight import launch_forecast
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, now, runtime
from addin_server.workers import launches as background

bp = api_blueprint("api_campaigns", __name__)


@bp.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    limit, offset = clamped_page(200)
    items, total = campaigns.campaigns_page(db(), current_rep(), limit, offset)
    return jsonify({"campaigns": [campaign_json(c) for c in items], "total": total})


@bp.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    rep = current_rep()
    spec = parse_campaign(checked_body(bodies.CampaignIn), default_timezone=rep.timezone)
    campaign = campaigns.create_campaign(db(), rep, spec, now())
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> ResponseReturnValue:
    return jsonify(campaign_json(owned(Campaign, campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>")
def patch_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    campaigns.update_campaign(db(), campaign, checked_body(bodies.CampaignPatch), now())
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
    campaign = owned(Campaign, campaign_id)
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
    shown = first.astimezone(tz).strftime("%a %d %b %H:%M")
    errors.add("first_send_at", f"is in the past ({shown}; it is now "
               f"{now().astimezone(tz).strftime('%a %d %b %H:%M')} {campaign.timezone}): "
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
