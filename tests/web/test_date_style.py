"""Text a rep reads on the Mailboxes page says dates in the one style of dates.py (issue 15
point 9): the vacation responder's span and the forecast chart's days, English whatever the
server's locale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from addin_server.models import Mailbox
from addin_server.web.mailboxes_view import _away
from addin_server.web.report_chart import forecast_svg

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # a Tuesday


def test_the_vacation_span_is_in_the_reps_zone_with_how_far_it_is() -> None:
    box = Mailbox(away_on=True, away_hold=True, away_start=NOW + timedelta(days=1),
                  away_end=NOW + timedelta(days=20))
    assert _away(box, "Europe/Paris", NOW) == (
        "vacation responder on from Wed, 25 Nov at 09:00 (in 1 day) until Mon, 14 Dec at 09:00:"
        " automatic emails and due tasks wait")


def test_the_forecast_chart_names_its_days_in_the_one_style() -> None:
    days = [{"date": (date(2026, 11, 24) + timedelta(days=i)).isoformat(), "due": 3,
             "expected": 2, "cap": 5} for i in range(2)]
    svg = str(forecast_svg(days, "Next 2 days"))
    assert "Tue, 24 Nov: 2 expected of 3 due, cap 5; Wed, 25 Nov: 2 expected" in svg
    assert "<title>Tue, 24 Nov: 2 expected, 3 due, cap 5</title>" in svg
    assert ">Tue</text>" in svg and ">Wed</text>" in svg
