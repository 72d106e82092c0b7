"""REST API of results: a campaign's report and the mailboxes' health, as JSON or, with
`Accept: text/csv`, as a CSV a spreadsheet opens (one row per step, one per mailbox)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.common import api_blueprint, current_rep, owned
from addin_server.enums import CallOutcome
from addin_server.models import Campaign, Rep
from addin_server.reports.campaign import Filters, campaign_report
from addin_server.reports.mailboxes import mailbox_report
from addin_server.validation import Errors, parse_date
from addin_server.web.common import db, now

bp = api_blueprint("api_reports", __name__)

STEP_COLUMNS = ("position", "type", "day", "sent", "held", "failed", "replied", "reply_rate",
                "bounced", "unsubscribed", "tasks_done", "tasks_skipped", "tasks_overdue",
                "tasks_on_time", "on_time_rate")
MAILBOX_COLUMNS = ("id", "address", "provider", "rep_email", "status", "sent_today",
                   "daily_cap", "sent_7_days", "cap_7_days", "emails_30_days", "reply_rate",
                   "bounce_rate", "paused_until", "disconnected_since", "reason")


def wants_csv() -> bool:
    # JSON unless the client prefers CSV (`*/*` and no Accept header mean JSON).
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(columns: Iterable[str], rows: Iterable[dict[str, Any]],
                 filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def parse_filters(args: dict[str, str], org_id: int) -> Filters:
    """`from`, `to` (YYYY-MM-DD, both included) and `rep_id` (a rep of the organisation)."""
    errors = Errors()
    start = parse_date(args.get("from"), "from", errors) if args.get("from") else None
    end = parse_date(args.get("to"), "to", errors) if args.get("to") else None
    if start and end and end < start:
        errors.add("to", "must be on or after from")
    rep_id = None
    if args.get("rep_id"):
        raw = args["rep_id"]
        if not raw.isdigit() or db().scalar(select(Rep.id).where(
                Rep.id == int(raw), Rep.org_id == org_id)) is None:
            errors.add("rep_id", "must be the id of a rep of your organisation")
        else:
            rep_id = int(raw)
    errors.raise_if_any()
    return Filters(start=start, end=end, rep_id=rep_id)


def step_csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for step in report["steps"]:
        row = dict(step)
        row["position"] = step["position"] + 1  # people read steps from 1
        row.update({f"calls_{o.value}": step["calls"][o.value] for o in CallOutcome})
        rows.append(row)
    return rows


@bp.get("/campaigns/<int:campaign_id>/report")
def get_campaign_report(campaign_id: int) -> ResponseReturnValue:
    campaign = owned(Campaign, campaign_id)
    flt = parse_filters(dict(request.args), current_rep().org_id)
    report = campaign_report(db(), campaign, now(), flt)
    if wants_csv():
        columns = [*STEP_COLUMNS, *(f"calls_{o.value}" for o in CallOutcome)]
        return csv_response(columns, step_csv_rows(report),
                            f"campaign-{campaign.id}-report.csv")
    return jsonify(report)


@bp.get("/reports/mailboxes")
def get_mailbox_report() -> ResponseReturnValue:
    rep = current_rep()
    rows = mailbox_report(db(), rep.org_id, None if rep.is_admin else rep.id, now())
    if wants_csv():
        return csv_response(MAILBOX_COLUMNS, rows, "mailboxes-report.csv")
    return jsonify({"mailboxes": rows})
