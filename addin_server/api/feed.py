"""REST API of the Live Feed: events after an id, oldest first (an admin sees the
organisation's)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server import feed
from addin_server.api.common import api_blueprint, current_rep, query_int
from addin_server.api.serializers import event_json
from addin_server.validation import MAX_ID
from addin_server.web.common import db

bp = api_blueprint("api_feed", __name__)


@bp.get("/feed")
def get_feed() -> ResponseReturnValue:
    after = query_int("after", 0, 0, MAX_ID, clamp=True)
    limit = query_int("limit", 100, 1, 500, clamp=True)
    rep = current_rep()
    events = feed.list_events(db(), org_id=rep.org_id, rep_id=None if rep.is_admin else rep.id,
                              after=after, limit=limit)
    return jsonify({"events": [event_json(e) for e in events]})
