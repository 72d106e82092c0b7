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
    `{"action": "pause"|"resume"|"stop", "ids": [...]}` (up to 10,000). Ids that are not the
    rep's are refused as a whole (422), like one unknown id; one whose state does not allow the
    action (resuming a stopped one) is listed in `unchanged` with why."""
    data = checked_body(bodies.BulkEnrollmentsIn)
    action = data.get("action")
    if action not in ("pause", "resume", "stop"):
        raise ApiError(422, "must be pause, resume or stop", "action")
    ids = data.get("ids")
    if (not isinstance(ids, list) or not ids or len(ids) > BULK_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
        raise ApiError(422, f"must be a list of 1 to {BULK_MAX} enrollment ids", "ids")
    rep = current_rep()
    query = select(Enrollment).where(Enrollment.id.in_(set(ids)),
                                     Enrollment.org_id == rep.org_id)
    if not rep.is_admin:
        query = query.where(Enrollment.rep_id == rep.id)
    found = list(db().scalars(query.order_by(Enrollment.id)))
    if len(found) != len(set(ids)):
        raise ApiError(422, "some ids are not enrollments of yours", "ids")
    changed: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    for enrollment in found:
        try:
            _apply(enrollment, action)
        except enrollments.Conflict as exc:
            unchanged.append({"id": enrollment.id, "message": str(exc)})
            continue
        changed.append({"id": enrollment.id, "status": enrollment.status.value})
    db().flush()
    return jsonify({"changed": changed, "unchanged": unchanged})


@bp.post("/enrollments/<int:enrollment_id>/pause")
def pause_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "pause")


@bp.post("/enrollments/<int:enrollment_id>/resume")
def resume_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "resume")


@bp.post("/enrollments/<int:enrollment_id>/stop")
def stop_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "stop")
