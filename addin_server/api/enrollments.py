"""REST API of enrollments: a person's progress in a campaign; pause, resume, stop."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.api.common import api_blueprint, owned
from addin_server.api.serializers import enrollment_json
from addin_server.enrollments import lifecycle as enrollments
from addin_server.models import Enrollment
from addin_server.web.common import ApiError, db, now

bp = api_blueprint("api_enrollments", __name__)


@bp.get("/enrollments/<int:enrollment_id>")
def get_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return jsonify(enrollment_json(owned(Enrollment, enrollment_id)))


def _change(enrollment_id: int, action: str) -> ResponseReturnValue:
    enrollment = owned(Enrollment, enrollment_id)
    try:
        if action == "pause":
            enrollments.pause(db(), enrollment, now())
        elif action == "resume":
            enrollments.resume(db(), enrollment, now())
        else:
            enrollments.end(db(), enrollment, now())
    except enrollments.Conflict as exc:
        raise ApiError(409, str(exc), "status") from exc
    db().flush()
    return jsonify(enrollment_json(enrollment))


@bp.post("/enrollments/<int:enrollment_id>/pause")
def pause_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "pause")


@bp.post("/enrollments/<int:enrollment_id>/resume")
def resume_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "resume")


@bp.post("/enrollments/<int:enrollment_id>/stop")
def stop_enrollment(enrollment_id: int) -> ResponseReturnValue:
    return _change(enrollment_id, "stop")
