"""REST API of campaigns: list, create, read, change; launch people into one; who is in it."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.common import api_blueprint, current_rep, owned
from addin_server.api.serializers import campaign_json
from addin_server.campaigns import service as campaigns
from addin_server.campaigns.definition import parse_campaign
from addin_server.enrollments import launch as launches
from addin_server.enrollments.people import parse_csv, parse_people
from addin_server.guard.breakers import release_campaign
from addin_server.models import Campaign, Enrollment, Person
from addin_server.validation import Errors
from addin_server.web.common import ApiError, db, json_body, now, runtime

bp = api_blueprint("api_campaigns", __name__)


@bp.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    items = campaigns.campaigns_for(db(), current_rep())
    return jsonify({"campaigns": [campaign_json(c) for c in items]})


@bp.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    rep = current_rep()
    spec = parse_campaign(json_body(), default_timezone=rep.timezone)
    campaign = campaigns.create_campaign(db(), rep, spec, now())
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> ResponseReturnValue:
    return jsonify(campaign_json(owned(Campaign, campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>")
def patch_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    campaigns.update_campaign(db(), campaign, json_body(), now())
    return jsonify(campaign_json(campaign))


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
    else:
        body = json_body()
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object")
        people = parse_people(body.get("people"), errors, limit=limit)
        options = launches.parse_options(body, errors)
    errors.raise_if_any()
    result = launches.launch(db(), current_rep(), campaign, people, options, now())
    return jsonify({
        "enrollments": [{"id": i, "email": e, "status": s} for i, e, s in result.enrolled],
        "skipped": [{"email": e, "reason": r} for e, r in result.skipped],
    }), 201


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
