"""Sending windows, caps and pacing (pure), to the minute, across the DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from addin_server.campaigns.calendar import SendingWindow, holidays_of, next_allowed, window_of
from addin_server.campaigns.settings import parse_extra
from addin_server.sending.pacing import MailboxPace, Waiting, assign_slots, per_day
from addin_server.validation import Errors

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")
WEEKDAYS = SendingWindow(frozenset(range(5)), time(8, 0), time(18, 0))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2026, 3, 24, 9, 0), utc(2026, 3, 24, 9, 0)),  # Tue 10:00 CET: inside
        (utc(2026, 3, 24, 5, 0), utc(2026, 3, 24, 7, 0)),  # Tue 06:00 CET: opens 08:00 CET
        (utc(2026, 3, 24, 17, 0), utc(2026, 3, 25, 7, 0)),  # Tue 18:00 CET: closed -> Wed
        (utc(2026, 3, 27, 17, 30), utc(2026, 3, 30, 6, 0)),  # Fri evening -> Mon 08:00 CEST
        (utc(2026, 10, 23, 20, 0), utc(2026, 10, 26, 7, 0)),  # Fri -> Mon 08:00 CET (autumn)
    ],
)
def test_window_opening_follows_the_wall_clock_across_dst(
    instant: datetime, expected: datetime
) -> None:
    # Europe/Paris moves to summer time on Sun 29 March 2026 and back on Sun 25 October.
    assert next_allowed(instant, WEEKDAYS, PARIS) == expected


def test_holidays_are_skipped() -> None:
    # Fri 25 Dec 2026 is a holiday: Thursday evening goes to Monday 28th.
    hol = frozenset({date(2026, 12, 25)})
    assert next_allowed(utc(2026, 12, 24, 18, 0), WEEKDAYS, PARIS, hol) == utc(2026, 12, 28, 7)
    # No window, just the holiday: the first minute of the next day.
    assert next_allowed(utc(2026, 12, 25, 10, 0), None, PARIS, hol) == utc(2026, 12, 25, 23, 0)


def waiting(send_id: int, due: datetime, *, enrolled: datetime | None = None, position: int = 0,
            window: SendingWindow | None = None, tz: ZoneInfo = PARIS) -> Waiting:
    return Waiting(send_id, due, enrolled or utc(2026, 1, 1), position, tz, window)


def test_daily_cap_rolls_overflow_to_the_next_day_in_priority_order() -> None:
    pace = MailboxPace(tz=PARIS, daily_cap=2, address="ann@acme.test")
    now = utc(2026, 11, 24, 8, 0)  # Tue 09:00 Paris
    items = [
        waiting(1, now, enrolled=utc(2026, 11, 20), position=0),
        waiting(2, now, enrolled=utc(2026, 11, 10), position=0),  # older enrolment
        waiting(3, now, enrolled=utc(2026, 11, 20), position=2),  # later step
        waiting(4, now, enrolled=utc(2026, 11, 21), position=0),
    ]
    slots = assign_slots(pace, [utc(2026, 11, 24, 7, 0)], items, now)  # one sent today
    assert [(s.send_id, s.at) for s in slots] == [
        (2, now),
        (3, utc(2026, 11, 24, 23, 0)),  # Wed 00:00 Paris: the cap resets
        (1, utc(2026, 11, 24, 23, 0)),
        (4, utc(2026, 11, 25, 23, 0)),
    ]
    assert slots[0].reason == ""
    assert slots[1].reason == ("daily cap of 2 emails from ann@acme.test reached for "
                               "Tue, 24 Nov 2026: expected Wed, 25 Nov 2026 at 00:00 CET")


def test_gap_and_batches() -> None:
    pace = MailboxPace(tz=PARIS, min_gap=timedelta(seconds=90), batch_size=3,
                       batch_wait=timedelta(minutes=20))
    now = utc(2026, 11, 24, 8, 0)
    slots = assign_slots(pace, [], [waiting(i, now) for i in range(1, 6)], now)
    assert [s.at - now for s in slots] == [
        timedelta(0), timedelta(seconds=90), timedelta(seconds=180),
        timedelta(seconds=180 + 1200), timedelta(seconds=180 + 1200 + 90)]
    assert slots[1].reason.startswith("pacing: at least 90 s between emails from this mailbox")
    assert slots[3].reason.startswith("3 emails sent in a row from this mailbox: pausing 20 min")


def test_window_and_cap_together_across_the_spring_dst_change() -> None:
    """Friday 27 March 2026, 17:58 in Paris: a window 08:00-18:00 on weekdays, a cap of 3 a
    day, 5 sends due. Two fit before 18:00, the rest go from Monday 08:00 — which is 06:00 UTC
    after the change, not 07:00."""
    pace = MailboxPace(tz=PARIS, daily_cap=3, min_gap=timedelta(minutes=1))
    now = utc(2026, 3, 27, 16, 58)
    items = [waiting(i, now, window=WEEKDAYS, enrolled=utc(2026, 3, 1, 0, i))
             for i in range(1, 6)]
    slots = assign_slots(pace, [], items, now)
    assert [(s.send_id, s.at) for s in slots] == [
        (1, utc(2026, 3, 27, 16, 58)),
        (2, utc(2026, 3, 27, 16, 59)),
        (3, utc(2026, 3, 30, 6, 0)),
        (4, utc(2026, 3, 30, 6, 1)),
        (5, utc(2026, 3, 30, 6, 2)),
    ]
    # The gap took it to 18:00, when the window closes.
    assert slots[2].reason == ("pacing: at least 1 min between emails from this mailbox; then "
                               "outside the sending window Mon-Fri 08:00-18:00 Europe/Paris: "
                               "expected Mon, 30 Mar 2026 at 08:00 CEST")
    assert per_day([s.at for s in slots], PARIS, date(2026, 3, 27), 4) == [2, 0, 0, 3]


def test_recipient_zone_windows_differ_per_person() -> None:
    """One mailbox in Paris, people in Paris and New York, each in their own 09:00-17:00."""
    window = SendingWindow(frozenset(range(5)), time(9, 0), time(17, 0))
    pace = MailboxPace(tz=PARIS)
    now = utc(2026, 11, 24, 7, 0)  # 08:00 Paris, 02:00 New York
    slots = assign_slots(pace, [], [waiting(1, now, window=window, tz=NY),
                                    waiting(2, now, window=window, tz=PARIS)], now)
    assert [(s.send_id, s.at) for s in slots] == [(2, utc(2026, 11, 24, 8, 0)),
                                                  (1, utc(2026, 11, 24, 14, 0))]


def test_extra_settings_are_checked() -> None:
    errors = Errors()
    extra = parse_extra({"sending_window": {"days": ["mon", "fri"], "start": "09:00",
                                            "end": "08:00"},
                         "holiday_countries": ["FR", "XX", "US-CA"],
                         "reply_from_same_domain": "yes"}, errors)
    assert {e.field for e in errors.items} == {"settings.sending_window.end",
                                               "settings.holiday_countries[1]",
                                               "settings.reply_from_same_domain"}
    assert extra == {}
    good = parse_extra({"sending_window": {"days": ["MON", "tue"], "start": "09:00",
                                           "end": "17:30"}, "holiday_countries": ["fr"]},
                       Errors())
    assert window_of(good) == SendingWindow(frozenset({0, 1}), time(9), time(17, 30))
    assert date(2026, 7, 14) in holidays_of(good, 2026)  # Bastille Day
    assert date(2026, 7, 4) not in holidays_of(good, 2026)
