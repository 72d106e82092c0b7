"""REST API of the organisation's deliverability: its settings (hold first emails at the
bulk-sender line; read the reps' vacation responders, and wait for them) and today's
bulk-sender meter per primary sending domain (guard/meter.py, guard/absence.py)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep, require_admin
from addin_server.api.openapi import requests as bodies
from addin_server.guard import absence, meter
from addin_server.models import Organisation
from addin_server.validation import Errors
from addin_server.web.common import db, now

bp = api_blueprint("api_deliverability", __name__)
SETTINGS = ("bulk_hold", "read_absence", "absence_hold")


def meter_json(m: meter.DomainMeter) -> dict[str, Any]:
    return {"domain": m.domain, "day": m.day.isoformat(), "line": m.line, "warn_at": m.warn,
            "level": m.level, "providers": [
                {"provider": u.provider, "name": u.name, "count": u.n,
                 "share": round(u.share, 4)} for u in m.uses]}


def _org() -> Organisation:
    org = db().get(Organisation, current_rep().org_id)
    assert org is not None
    return org


def deliverability_json(org: Organisation) -> dict[str, Any]:
    return {"settings": {k: bool(getattr(org, k)) for k in SETTINGS},
            "meter": [meter_json(m) for m in meter.meters(db(), org.id, now())]}


@bp.get("/deliverability")
def get_deliverability() -> ResponseReturnValue:
    return jsonify(deliverability_json(_org()))


@bp.patch("/deliverability/settings")
def patch_settings() -> ResponseReturnValue:
    require_admin()
    data = checked_body(bodies.DeliverabilitySettingsIn)
    errors = Errors()
    changes: dict[str, bool] = {}
    for key in SETTINGS:
        if key not in data or data[key] is None:
            continue
        if not isinstance(data[key], bool):
            errors.add(key, "must be true or false")
        else:
            changes[key] = data[key]
    errors.raise_if_any()
    org = _org()
    for key, value in changes.items():
        setattr(org, key, value)
    if {"read_absence", "absence_hold"} & changes.keys():
        absence.apply_settings(db(), org, now())
    return jsonify(deliverability_json(org))
