"""The vacation responder's wire formats read into one Vacation: Gmail's VacationSettings
(int64 milliseconds as strings) and Graph's automaticRepliesSetting (dateTimeTimeZone with
seven fractional digits, in UTC, an IANA zone or a Windows zone name)."""

from __future__ import annotations

from datetime import UTC, datetime

from addin_server.mailboxes.gmail import vacation_from_gmail
from addin_server.mailboxes.graph import vacation_from_graph
from addin_server.mailboxes.port import Vacation

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_gmail_settings() -> None:
    assert vacation_from_gmail({"enableAutoReply": False}) == Vacation(False)
    got = vacation_from_gmail({"enableAutoReply": True, "restrictToContacts": False,
                               "startTime": "1764000000000", "endTime": "1764259200000"})
    assert got == Vacation(True, datetime(2025, 11, 24, 16, 0, tzinfo=UTC),
                           datetime(2025, 11, 27, 16, 0, tzinfo=UTC))
    assert vacation_from_gmail({"enableAutoReply": True, "startTime": "x"}) == Vacation(True)


def test_graph_settings() -> None:
    assert vacation_from_graph({"status": "disabled", "scheduledStartDateTime": {
        "dateTime": "2026-11-24T08:00:00.0000000", "timeZone": "UTC"}}) == Vacation(False)
    assert vacation_from_graph({"status": "alwaysEnabled"}) == Vacation(True)
    got = vacation_from_graph({
        "status": "scheduled",
        "scheduledStartDateTime": {"dateTime": "2026-11-24T09:00:00.0000000",
                                   "timeZone": "Europe/Paris"},
        "scheduledEndDateTime": {"dateTime": "2026-11-30T08:00:00.0000000", "timeZone": "UTC"}})
    assert got == Vacation(True, T0, datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    windows = vacation_from_graph({"status": "scheduled", "scheduledStartDateTime": {
        "dateTime": "2026-11-24T08:00:00.0000000", "timeZone": "Pacific Standard Time"}})
    assert windows.start == T0  # a Windows zone name: read as UTC (we ask for UTC)


def test_active() -> None:
    v = Vacation(True, T0, datetime(2026, 11, 25, tzinfo=UTC))
    assert not v.active(datetime(2026, 11, 24, 7, 59, tzinfo=UTC))
    assert v.active(T0) and not v.active(datetime(2026, 11, 25, tzinfo=UTC))
    assert Vacation(True).active(T0) and not Vacation(False).active(T0)
