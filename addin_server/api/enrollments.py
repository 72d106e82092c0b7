"""REST API of enrollments: a person's progress in a campaign; pause, resume, stop."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep, owned
from addin_server.api.openapi import requests as bodies
from addin_server.api.serializers import enrollment_json
from addin_server.enrollments import lifecycle as enrollments
from addin_server.models import Enrollment
from addin_server.web import command_center
from addin_server.web.common import ApiError, db, now

BULK_MAX = 10_000

bp = api_blueprint("api_enrollments", __name__)


@bp.get("/enrollments/<int:enrollment_id>")
def get_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return jsonify(enrollment_json(owned(Enrollment, enrollment_id)))


def _apply(enrollment: Enrollment, action: str) -> None:
    if action == "pause":
        enrollments.pause(db(), enrollment, now())
    elif action == "resume":
        enrollments.resume(db(), enrollment, now())
    else:
        enrollments.end(db(), enrollment, now())


def _change(enrollment_id: int, action: str) -> ResponseReturnValue:
    enrollment = owned(Enrollment, enrollment_id)
    try:
        _apply(enrollment, action)
    except enrollments.Conflict as exc:
        raise ApiError(409, str(exc), "status") from exc
    db().flush()
    return jsonify(enrollment_json(enrollment))


@bp.post("/enrollments/bulk")
def bulk_change() -> ResponseReturnValue:
    """Pause, resume or stop many enrollments in one request and one transaction:
    `{"action": "pause"|"resume"|"stop", "ids": [...]}` (up to 10,000), or `"filter"` instead
    of ids: every enrollment a Command Center list's filter matches (the rep's own, as the
    list shows; more than 10,000 is refused, nothing changed). Ids that are not the rep's are
    refused as a whole (422), like one unknown id; one whose state does not allow the action
    (resuming a stopped one) is listed in `unchanged` with why."""
    data = checked_body(bodies.BulkEnrollmentsIn)
    action = data["action"]
    ids, flt = data.get("ids"), data.get("filter")
    if (ids is None) == (flt is None):
        raise ApiError(422, "give either ids or filter", "ids")
    rep = current_rep()
    wanted: set[int] = set(_matching(flt) if flt is not None else ids or [])
    query = select(Enrollment).where(Enrollment.id.in_(wanted),
                                     Enrollment.org_id == rep.org_id)
    if not rep.is_admin:
        query = query.where(Enrollment.rep_id == rep.id)
    found = list(db().scalars(query.order_by(Enrollment.id)))
    if len(found) != len(wanted):
        raise ApiError(422, "some ids are not enrollments of yours", "ids")
    # Set-based: one person at a time took minutes for 10,000 (statements per person).
    refused: dict[int, str] = {}
    if action == "stop":
        enrollments.stop_many(db(), found, now())
    else:
        refused = enrollments.pause_many(db(), found, now(), resume=action == "resume")
    unchanged = [{"id": i, "message": m} for i, m in sorted(refused.items())]
    changed = [{"id": e.id, "status": e.status.value} for e in found if e.id not in refused]
    db().flush()
    return jsonify({"matched": len(found), "changed": changed, "unchanged": unchanged})


def _matching(data: dict[str, Any]) -> list[int]:
    """The enrollment ids a list's filter matches, as the Command Center lists them."""
    flt = command_center.ListFilter(
        view=data["view"], q=(data.get("q") or "").strip(), status=data.get("status") or "live",
        state=data.get("state") or "scheduled", campaign_id=data.get("campaign_id"))
    ids = command_center.matching_enrollments(db(), current_rep(), now(), flt, BULK_MAX)
    if len(ids) > BULK_MAX:
        raise ApiError(422, f"more than {BULK_MAX:,} match: narrow the filter (a campaign, a "
                       "search) and run it again", "filter")
    if not ids:
        raise ApiError(422, "nothing matches this filter", "filter")
    return ids


@bp.post("/enrollments/<int:enrollment_id>/pause")
def pause_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "pause")


@bp.post("/enrollments/<int:enrollment_id>/resume")
def resume_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "resume")


@bp.post("/enrollments/<int:enrollment_id>/stop")
def stop_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "stop")
