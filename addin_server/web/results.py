"""The campaign's results page: the funnel, one row per step, the chart; filters by rep and
dates. The figures are the API's (reports/campaign.py), so the page and the CSV agree."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.api.reports import STEP_COLUMNS, csv_response, step_csv_rows
from addin_server.enums import CALL_OUTCOME_LABELS, CallOutcome
from addin_server.models import Campaign, Rep
from addin_server.reports.campaign import Filters, campaign_report
from addin_server.validation import Errors, parse_date
from addin_server.web.common import db, now
from addin_server.web.report_chart import chart_svg, fill_days

STEP_LABELS = {"email": "Email", "call": "Call", "linkedin": "LinkedIn", "custom": "Task"}


def _filters(rep: Rep, errors: Errors) -> Filters:
    """The page's filters; a bad value is shown and ignored (the page still opens)."""
    args = request.args
    start = parse_date(args.get("from"), "from", errors) if args.get("from") else None
    end = parse_date(args.get("to"), "to", errors) if args.get("to") else None
    if start and end and end < start:
        errors.add("to", "The end date is before the start date.")
        start = end = None
    rep_id = int(args["rep_id"]) if args.get("rep_id", "").isdigit() else None
    if rep_id is not None and db().scalar(select(Rep.id).where(
            Rep.id == rep_id, Rep.org_id == rep.org_id)) is None:
        rep_id = None
    return Filters(start=start, end=end, rep_id=rep_id)


def calls_text(calls: dict[str, int]) -> str:
    return " · ".join(f"{n} {CALL_OUTCOME_LABELS[CallOutcome(k)].lower()}"
                      for k, n in calls.items() if n)


def page(campaign: Campaign, rep: Rep) -> ResponseReturnValue:
    errors = Errors()
    flt = _filters(rep, errors)
    report: dict[str, Any] = campaign_report(db(), campaign, now(), flt)
    reps = list(db().scalars(select(Rep).where(Rep.org_id == rep.org_id).order_by(Rep.name)))
    query = {k: v for k, v in flt.json().items() if v is not None}
    return render_template(
        "results.html", campaign=campaign, report=report, totals=report["totals"],
        steps=report["steps"], chart=chart_svg(fill_days(report["days"], flt.start, flt.end)),
        filters=flt, reps=reps, query=query, step_labels=STEP_LABELS, calls_text=calls_text,
        errors=[e.message for e in errors.items], hide_panel=True,
    )


def csv_download(campaign: Campaign, rep: Rep) -> ResponseReturnValue:
    """The page's "Download CSV": the API report's CSV for the page's filters. A link cannot
    send `Accept: text/csv`, and a browser's Accept made the API answer JSON."""
    report = campaign_report(db(), campaign, now(), _filters(rep, Errors()))
    columns = [*STEP_COLUMNS, *(f"calls_{o.value}" for o in CallOutcome)]
    return csv_response(columns, step_csv_rows(report), f"campaign-{campaign.id}-report.csv")
