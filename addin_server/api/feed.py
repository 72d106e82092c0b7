"""REST API of the Live Feed: events after an id, oldest first (an admin sees the
organisation's)."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from addin_server import feed
from addin_server.api.common import api_blueprint, current_rep
from addin_server.api.serializers import event_json
from addin_server.web.common import ApiError, db

bp = api_blueprint("api_feed", __name__)


@bp.get("/feed")
def get_feed() -> ResponseReturnValue:
    try:
        after = int(request.args.get("after", 0))
        limit = min(int(request.args.get("limit", 100)), 500)
    except ValueError as exc:
        raise ApiError(422, "after and limit must be integers", "after") from exc
    rep = current_rep()
    events = feed.list_events(db(), org_id=rep.org_id, rep_id=None if rep.is_admin else rep.id,
                              after=after, limit=limit)
    return jsonify({"events": [event_json(e) for e in events]})
