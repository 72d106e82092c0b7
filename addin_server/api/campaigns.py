"""REST API of campaigns: list, create, read, change; launch people into one; who is in it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep, owned
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import campaign_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns.definition import parse_campaign
from addin_server.enrollments import launch as launches
from addin_server.enrollments.people import parse_csv, parse_people
from addin_server.models import Campaign, Enrollment, Person
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, now, runtime

bp = api_blueprint("api_campaigns", __name__)


@bp.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    items = campaigns.campaigns_for(db(), current_rep())
    return jsonify({"campaigns": [campaign_json(c) for c in items]})


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


@bp.post("/campaigns/<int:campaign_id>/launch")
def launch_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    limit = runtime().settings.max_people_per_launch
    errors = Errors()
    if request.mimetype == "text/csv":
        try:
            text = request.get_data(as_text=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "the CSV must be UTF-8", "csv") from exc
        people = parse_csv(text, errors, limit=limit)
        options = launches.parse_options(dict(request.args), errors)
        past_ok = request.args.get("send_past_now") in ("true", "1")
    else:
        body = checked_body(bodies.LaunchIn)
        people = parse_people(body.get("people"), errors, limit=limit)
        options = launches.parse_options(body, errors)
        past_ok = body.get("send_past_now") is True
    if not past_ok:
        _refuse_past_first_send(campaign, options.first_send_at, errors)
    errors.raise_if_any()
    result = launches.launch(db(), current_rep(), campaign, people, options, now())
    return jsonify({
        "enrollments": [{"id": i, "email": e, "status": s} for i, e, s in result.enrolled],
        "skipped": [{"email": e, "reason": r} for e, r in result.skipped],
    }), 201


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


@bp.get("/campaigns/<int:campaign_id>/enrollments")
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
