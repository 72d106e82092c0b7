"""The JSON of a launch's answer: who is enrolled and skipped, the warnings, the rows left out of a
forgiving CSV, and (dry run) the forecast."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from addin_server import dates
from addin_server.enrollments.launch import LaunchResult
from addin_server.enrollments.people import Invalid
from addin_server.guard import meter
from addin_server.models import Campaign
from addin_server.sending.foresight import BulkForecast, LaunchForecast

PEOPLE_SHOWN = 1000  # a dry run lists each person's schedule up to this many people


def _iso(when: datetime | date | None) -> str | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.isoformat()


def launch_json(result: LaunchResult, invalid: list[Invalid], columns: dict[str, str]
                ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enrollments": [{"id": i, "email": e, "status": s} for i, e, s in result.enrolled],
        "skipped": [{"email": e, "reason": r} for e, r in result.skipped],
        "warnings": [{"email": w.email, "step": None if w.position is None else w.position + 1,
                      "code": w.code, "message": w.message} for w in result.warnings],
        "invalid": [{"line": b.line, "column": b.column, "message": b.message}
                    for b in invalid],
    }
    if columns:
        body["columns"] = columns
    return body


def forecast_json(forecast: LaunchForecast, campaign: Campaign, emails: dict[int, str]
                  ) -> dict[str, Any]:
    """Per step: how many on each local day (the campaign's zone), first, last, and how many
    each rule moved; then each person's schedule (the first PEOPLE_SHOWN people)."""
    tz = ZoneInfo(campaign.timezone)
    people: dict[int, list[dict[str, Any]]] = {}
    for item in sorted(forecast.items, key=lambda i: (i.enrollment_id, i.position)):
        if item.enrollment_id in people or len(people) < PEOPLE_SHOWN:
            people.setdefault(item.enrollment_id, []).append({
                "step": item.position + 1, "kind": "email" if item.automatic else "task",
                "due_date": item.due_date.isoformat(), "planned_at": _iso(item.planned_at),
                "expected_at": _iso(item.expected_at), "moved_by": item.rule or None})
    return {
        "timezone": campaign.timezone,
        "mailbox": forecast.mailbox,
        "queued_on_mailbox": forecast.queued_on_mailbox,
        "steps": [{
            "step": f.position + 1, "kind": f.kind,
            "days": [{"date": d.isoformat(), "count": n} for d, n in sorted(f.days.items())],
            "first": _iso(f.first), "last": _iso(f.last),
            "first_local": _local(f.first, tz), "last_local": _local(f.last, tz),
            "moved_by": dict(sorted(f.moved.items())),
        } for f in forecast.steps],
        "people": [{"email": emails[eid], "steps": steps} for eid, steps in people.items()],
        "people_truncated": len(emails) > PEOPLE_SHOWN,
        "bulk": bulk_json(forecast.bulk),
    }


def bulk_json(bulk: BulkForecast | None) -> dict[str, Any] | None:
    """The launch against the bulk-sender meter of the mailbox's primary domain."""
    if bulk is None:
        return None
    return {"domain": bulk.domain, "hold": bulk.hold, "line": meter.LINE, "days": [{
        "date": d.day.isoformat(), "provider": d.provider,
        "name": meter.PROVIDER_NAMES[d.provider], "before": d.before, "launch": d.launch,
        "total": d.total, "level": d.level, "held": d.held} for d in bulk.days]}


def _local(when: datetime | date | None, tz: ZoneInfo) -> str | None:
    if isinstance(when, datetime):
        return dates.absolute(when, tz.key, named=True)
    return dates.day(when) if when else None
