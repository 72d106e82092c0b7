"""The timing rules, pinned to the minute against hand-computed instants.

Offsets used below (2026): America/New_York is EST (UTC-5) until 8 March 02:00 and again from
1 November 02:00, EDT (UTC-4) in between. Europe/Paris is CET (UTC+1) until 29 March 02:00 and
again from 25 October 03:00, CEST (UTC+2) in between.
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from addin_server.campaigns.timing import (
    CampaignCalendar,
    Completion,
    Launch,
    Plan,
    StepTiming,
    add_campaign_days,
    day_date,
    forecast,
    is_campaign_day,
    local_instant,
    plan_step,
)
from addin_server.enums import SendOption, StepType

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")

CHOOSE = SendOption.CHOOSE_AT_LAUNCH
FIXED = SendOption.FIXED_TIME
SAME = SendOption.SAME_TIME_AS_PREVIOUS
MANUAL = SendOption.MANUAL_TASK


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def email(pos: int, day: int, option: SendOption, send_time: time | None = None) -> StepTiming:
    return StepTiming(pos, day, StepType.EMAIL, option, send_time)


def task(pos: int, day: int, kind: StepType = StepType.CALL) -> StepTiming:
    return StepTiming(pos, day, kind)


def cal(
    tz: ZoneInfo = NY, skip_weekends: bool = False, holidays: frozenset[date] = frozenset()
) -> CampaignCalendar:
    return CampaignCalendar(tz, skip_weekends, holidays)


XMAS = frozenset({date(2026, 12, 25)})


# --- campaign days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "calendar", "expected"),
    [
        (date(2026, 3, 6), cal(), True),  # Friday
        (date(2026, 3, 7), cal(), True),  # Saturday, weekends not skipped
        (date(2026, 3, 7), cal(skip_weekends=True), False),
        (date(2026, 3, 8), cal(skip_weekends=True), False),  # Sunday
        (date(2026, 3, 9), cal(skip_weekends=True), True),  # Monday
        (date(2026, 12, 25), cal(holidays=XMAS), False),  # holiday, weekends not skipped
        (date(2026, 12, 25), cal(skip_weekends=True, holidays=XMAS), False),
        (date(2026, 12, 24), cal(skip_weekends=True, holidays=XMAS), True),
    ],
)
def test_is_campaign_day(d: date, calendar: CampaignCalendar, expected: bool) -> None:
    assert is_campaign_day(d, calendar) is expected


@pytest.mark.parametrize(
    ("d", "n", "calendar", "expected"),
    [
        # Plain calendar: d + n days.
        (date(2026, 3, 6), 0, cal(), date(2026, 3, 6)),
        (date(2026, 3, 6), 1, cal(), date(2026, 3, 7)),
        (date(2026, 3, 6), 3, cal(), date(2026, 3, 9)),
        (date(2026, 2, 27), 2, cal(), date(2026, 3, 1)),
        # Business days.
        (date(2026, 3, 6), 0, cal(skip_weekends=True), date(2026, 3, 6)),  # Fri
        (date(2026, 3, 6), 1, cal(skip_weekends=True), date(2026, 3, 9)),  # Fri + 1 = Mon
        (date(2026, 3, 6), 5, cal(skip_weekends=True), date(2026, 3, 13)),  # Fri + 5 = Fri
        (date(2026, 3, 7), 0, cal(skip_weekends=True), date(2026, 3, 9)),  # Sat -> Mon
        (date(2026, 3, 7), 1, cal(skip_weekends=True), date(2026, 3, 9)),  # Sat + 1 = Mon
        (date(2026, 3, 8), 2, cal(skip_weekends=True), date(2026, 3, 10)),  # Sun + 2 = Tue
        (date(2026, 3, 4), 2, cal(skip_weekends=True), date(2026, 3, 6)),  # Wed + 2 = Fri
        # Holidays, with and without weekends.
        (date(2026, 12, 24), 1, cal(holidays=XMAS), date(2026, 12, 26)),
        (date(2026, 12, 25), 0, cal(holidays=XMAS), date(2026, 12, 26)),
        (date(2026, 12, 24), 1, cal(skip_weekends=True, holidays=XMAS), date(2026, 12, 28)),
        (date(2026, 12, 23), 3, cal(skip_weekends=True, holidays=XMAS), date(2026, 12, 29)),
    ],
)
def test_add_campaign_days(d: date, n: int, calendar: CampaignCalendar, expected: date) -> None:
    assert add_campaign_days(d, n, calendar) == expected


def test_add_campaign_days_refuses_negative() -> None:
    with pytest.raises(ValueError):
        add_campaign_days(date(2026, 3, 6), -1, cal())


@pytest.mark.parametrize(
    ("start", "day", "calendar", "expected"),
    [
        (date(2026, 3, 6), 1, cal(skip_weekends=True), date(2026, 3, 6)),  # launch Friday
        (date(2026, 3, 6), 2, cal(skip_weekends=True), date(2026, 3, 9)),  # day 2 is Monday
        (date(2026, 3, 7), 1, cal(skip_weekends=True), date(2026, 3, 9)),  # launch Saturday
        (date(2026, 3, 7), 2, cal(skip_weekends=True), date(2026, 3, 10)),
        (date(2026, 3, 7), 1, cal(), date(2026, 3, 7)),  # Saturday kept without skipping
        (date(2026, 3, 7), 3, cal(), date(2026, 3, 9)),
        (date(2026, 12, 25), 1, cal(holidays=XMAS), date(2026, 12, 26)),  # launch on holiday
        (date(2026, 12, 24), 2, cal(skip_weekends=True, holidays=XMAS), date(2026, 12, 28)),
    ],
)
def test_day_date(start: date, day: int, calendar: CampaignCalendar, expected: date) -> None:
    assert day_date(start, day, calendar) == expected


def test_day_date_refuses_day_zero() -> None:
    with pytest.raises(ValueError):
        day_date(date(2026, 3, 6), 0, cal())


# --- wall clock to UTC -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "t", "tz", "expected"),
    [
        (date(2026, 3, 7), time(9, 30), NY, utc(2026, 3, 7, 14, 30)),  # EST
        (date(2026, 3, 9), time(9, 30), NY, utc(2026, 3, 9, 13, 30)),  # EDT
        # Spring-forward gap: 02:30 does not exist, becomes 03:30 EDT.
        (date(2026, 3, 8), time(2, 30), NY, utc(2026, 3, 8, 7, 30)),
        (date(2026, 3, 8), time(2, 0), NY, utc(2026, 3, 8, 7, 0)),  # 02:00 -> 03:00 EDT
        (date(2026, 3, 8), time(1, 59), NY, utc(2026, 3, 8, 6, 59)),  # last EST minute
        (date(2026, 3, 8), time(3, 0), NY, utc(2026, 3, 8, 7, 0)),
        # Fall-back: 01:30 happens twice, the first (EDT) is taken.
        (date(2026, 11, 1), time(1, 30), NY, utc(2026, 11, 1, 5, 30)),
        (date(2026, 11, 1), time(2, 0), NY, utc(2026, 11, 1, 7, 0)),  # EST after the change
        (date(2026, 3, 29), time(2, 30), PARIS, utc(2026, 3, 29, 1, 30)),  # -> 03:30 CEST
        (date(2026, 10, 25), time(2, 30), PARIS, utc(2026, 10, 25, 0, 30)),  # first: CEST
        (date(2026, 10, 25), time(3, 0), PARIS, utc(2026, 10, 25, 2, 0)),  # CET
        # Seconds are dropped.
        (date(2026, 6, 1), time(9, 30, 59, 999), NY, utc(2026, 6, 1, 13, 30)),
    ],
)
def test_local_instant(d: date, t: time, tz: ZoneInfo, expected: datetime) -> None:
    got = local_instant(d, t, tz)
    assert got == expected
    assert got.tzinfo is UTC
    assert (got.second, got.microsecond) == (0, 0)


def test_local_instant_gap_moves_forward_by_the_gap() -> None:
    local = local_instant(date(2026, 3, 8), time(2, 30), NY).astimezone(NY)
    assert (local.hour, local.minute) == (3, 30)
    assert local.utcoffset() is not None and local.utcoffset().total_seconds() == -4 * 3600


# --- a 09:30 email across the DST weeks ------------------------------------------------------

DST_WEEKS = [
    pytest.param(
        NY,
        date(2026, 3, 5),  # Thursday; Sunday 8 March springs forward
        [
            utc(2026, 3, 5, 14, 30),
            utc(2026, 3, 6, 14, 30),
            utc(2026, 3, 7, 14, 30),
            utc(2026, 3, 8, 13, 30),
            utc(2026, 3, 9, 13, 30),
            utc(2026, 3, 10, 13, 30),
        ],
        id="new-york-spring",
    ),
    pytest.param(
        NY,
        date(2026, 10, 29),  # Thursday; Sunday 1 November falls back
        [
            utc(2026, 10, 29, 13, 30),
            utc(2026, 10, 30, 13, 30),
            utc(2026, 10, 31, 13, 30),
            utc(2026, 11, 1, 14, 30),
            utc(2026, 11, 2, 14, 30),
            utc(2026, 11, 3, 14, 30),
        ],
        id="new-york-fall",
    ),
    pytest.param(
        PARIS,
        date(2026, 3, 26),  # Thursday; Sunday 29 March springs forward
        [
            utc(2026, 3, 26, 8, 30),
            utc(2026, 3, 27, 8, 30),
            utc(2026, 3, 28, 8, 30),
            utc(2026, 3, 29, 7, 30),
            utc(2026, 3, 30, 7, 30),
            utc(2026, 3, 31, 7, 30),
        ],
        id="paris-spring",
    ),
    pytest.param(
        PARIS,
        date(2026, 10, 22),  # Thursday; Sunday 25 October falls back
        [
            utc(2026, 10, 22, 7, 30),
            utc(2026, 10, 23, 7, 30),
            utc(2026, 10, 24, 7, 30),
            utc(2026, 10, 25, 8, 30),
            utc(2026, 10, 26, 8, 30),
            utc(2026, 10, 27, 8, 30),
        ],
        id="paris-fall",
    ),
]


def _daily(later: SendOption) -> list[StepTiming]:
    steps = [email(0, 1, FIXED, time(9, 30))]
    steps += [email(i, i + 1, later, time(9, 30)) for i in range(1, 6)]
    return steps


@pytest.mark.parametrize("later", [FIXED, SAME])
@pytest.mark.parametrize(("tz", "start", "expected"), DST_WEEKS)
def test_0930_email_stays_0930_local_across_dst(
    tz: ZoneInfo, start: date, expected: list[datetime], later: SendOption
) -> None:
    steps = _daily(later)
    launch = Launch(start)
    now = datetime(start.year, start.month, start.day, 0, 5, tzinfo=tz)
    plans = forecast(steps, launch, {}, cal(tz), now)
    assert [p.planned_at for p in plans] == expected
    assert [p.due_at for p in plans] == expected
    assert [p.due_date for p in plans] == [e.astimezone(tz).date() for e in expected]
    for p in plans:
        assert p.planned_at is not None
        local = p.planned_at.astimezone(tz)
        assert (local.hour, local.minute) == (9, 30)
    # The UTC offset changes across the week, the wall clock does not.
    assert expected[0].hour != expected[-1].hour


@pytest.mark.parametrize("later", [FIXED, SAME])
@pytest.mark.parametrize(("tz", "start", "expected"), DST_WEEKS)
def test_plan_step_one_by_one_across_dst(
    tz: ZoneInfo, start: date, expected: list[datetime], later: SendOption
) -> None:
    steps = _daily(later)
    launch = Launch(start)
    completions: dict[int, Completion] = {}
    for position, instant in enumerate(expected):
        now = instant.replace(minute=0)  # half an hour before it is due
        plan = plan_step(steps, position, launch, completions, cal(tz), now)
        assert plan == Plan(position, instant.astimezone(tz).date(), instant, instant)
        completions[position] = Completion(at=instant.replace(second=12), email_time=time(9, 30))


@pytest.mark.parametrize(
    ("tz", "start", "t", "expected"),
    [
        # 02:30 New York: the day before, the gap day (03:30 EDT), the day after.
        (NY, date(2026, 3, 7), time(2, 30), [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30),
                                              utc(2026, 3, 9, 6, 30)]),
        # 01:30 New York: the ambiguous day takes the first 01:30 (EDT).
        (NY, date(2026, 10, 31), time(1, 30), [utc(2026, 10, 31, 5, 30),
                                                utc(2026, 11, 1, 5, 30),
                                                utc(2026, 11, 2, 6, 30)]),
        (PARIS, date(2026, 3, 28), time(2, 30), [utc(2026, 3, 28, 1, 30),
                                                  utc(2026, 3, 29, 1, 30),
                                                  utc(2026, 3, 30, 0, 30)]),
        (PARIS, date(2026, 10, 24), time(2, 30), [utc(2026, 10, 24, 0, 30),
                                                   utc(2026, 10, 25, 0, 30),
                                                   utc(2026, 10, 26, 1, 30)]),
    ],
)
def test_fixed_time_in_gap_and_ambiguous_hour(
    tz: ZoneInfo, start: date, t: time, expected: list[datetime]
) -> None:
    steps = [email(0, 1, FIXED, t), email(1, 2, FIXED, t), email(2, 3, SAME)]
    plans = forecast(steps, Launch(start), {}, cal(tz), utc(2026, 1, 1))
    assert [p.planned_at for p in plans] == expected


# --- weekends and holidays -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Launch on Friday: day 2 is Monday (after the spring-forward, so EDT).
        (date(2026, 3, 6), [utc(2026, 3, 6, 14, 30), utc(2026, 3, 9, 13, 30),
                            utc(2026, 3, 10, 13, 30)]),
        # Launch on Saturday: day 1 is Monday.
        (date(2026, 3, 7), [utc(2026, 3, 9, 13, 30), utc(2026, 3, 10, 13, 30),
                            utc(2026, 3, 11, 13, 30)]),
        # Launch on Sunday: day 1 is Monday too.
        (date(2026, 3, 8), [utc(2026, 3, 9, 13, 30), utc(2026, 3, 10, 13, 30),
                            utc(2026, 3, 11, 13, 30)]),
    ],
)
def test_skip_weekends(start: date, expected: list[datetime]) -> None:
    steps = [email(0, 1, FIXED, time(9, 30)), email(1, 2, SAME), email(2, 3, FIXED, time(9, 30))]
    plans = forecast(steps, Launch(start), {}, cal(skip_weekends=True), utc(2026, 3, 1))
    assert [p.planned_at for p in plans] == expected
    assert [p.due_date for p in plans] == [e.astimezone(NY).date() for e in expected]


@pytest.mark.parametrize(
    ("start", "calendar", "expected_dates"),
    [
        (date(2026, 12, 24), cal(skip_weekends=True, holidays=XMAS),
         [date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29)]),
        (date(2026, 12, 25), cal(skip_weekends=True, holidays=XMAS),
         [date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30)]),
        (date(2026, 12, 24), cal(holidays=XMAS),
         [date(2026, 12, 24), date(2026, 12, 26), date(2026, 12, 27)]),
        # A holiday on a Saturday is skipped even when weekends are not.
        (date(2026, 7, 3), cal(holidays=frozenset({date(2026, 7, 4)})),
         [date(2026, 7, 3), date(2026, 7, 5), date(2026, 7, 6)]),
    ],
)
def test_holidays(start: date, calendar: CampaignCalendar, expected_dates: list[date]) -> None:
    steps = [email(0, 1, FIXED, time(10, 0)), task(1, 2), email(2, 3, SAME)]
    plans = forecast(steps, Launch(start), {}, calendar, utc(2026, 1, 1))
    assert [p.due_date for p in plans] == expected_dates
    offset_hours = 5 if start.month == 12 else 4  # EST in December, EDT in July
    d0, d2 = expected_dates[0], expected_dates[2]
    assert plans[0].planned_at == utc(d0.year, d0.month, d0.day, 10 + offset_hours)
    assert plans[1].planned_at is None and plans[1].due_at is None
    assert plans[2].planned_at == utc(d2.year, d2.month, d2.day, 10 + offset_hours)


# --- same time as previous -------------------------------------------------------------------

JUNE = date(2026, 6, 1)  # a Monday, EDT (UTC-4)


def test_same_time_copies_previous_email_on_an_earlier_day() -> None:
    steps = [email(0, 1, FIXED, time(8, 15)), task(1, 2), email(2, 4, SAME)]
    completions = {
        0: Completion(utc(2026, 6, 1, 12, 15, 3), email_time=time(8, 15)),
        1: Completion(utc(2026, 6, 2, 15, 0)),
    }
    now = utc(2026, 6, 2, 15, 0, 1)
    plan = plan_step(steps, 2, Launch(JUNE), completions, cal(), now)
    assert plan == Plan(2, date(2026, 6, 4), utc(2026, 6, 4, 12, 15), utc(2026, 6, 4, 12, 15))
    assert plan.right_away is False


def test_same_time_on_same_day_copies_the_earlier_day_email() -> None:
    steps = [
        email(0, 1, FIXED, time(8, 15)),
        email(1, 3, FIXED, time(7, 0)),
        email(2, 3, SAME),  # previous email is on day 3 too: copy day 1's 08:15
    ]
    completions = {
        0: Completion(utc(2026, 6, 1, 12, 15), email_time=time(8, 15)),
        1: Completion(utc(2026, 6, 3, 11, 0), email_time=time(7, 0)),
    }
    plan = plan_step(steps, 2, Launch(JUNE), completions, cal(), utc(2026, 6, 3, 11, 0, 5))
    assert plan == Plan(2, date(2026, 6, 3), utc(2026, 6, 3, 12, 15), utc(2026, 6, 3, 12, 15))


def test_same_time_copies_the_time_a_manual_email_was_sent() -> None:
    steps = [email(0, 1, MANUAL), email(1, 3, SAME)]
    completions = {0: Completion(utc(2026, 6, 1, 15, 7, 44), email_time=time(11, 7))}
    plan = plan_step(steps, 1, Launch(JUNE), completions, cal(), utc(2026, 6, 1, 16, 0))
    assert plan == Plan(1, date(2026, 6, 3), utc(2026, 6, 3, 15, 7), utc(2026, 6, 3, 15, 7))


def test_same_time_copies_the_planned_time_not_the_late_send_time() -> None:
    # The 09:30 email went out at 11:02 (cap); the caller passes the planned 09:30.
    steps = [email(0, 1, FIXED, time(9, 30)), email(1, 2, SAME)]
    completions = {0: Completion(utc(2026, 6, 1, 15, 2), email_time=time(9, 30))}
    plan = plan_step(steps, 1, Launch(JUNE), completions, cal(), utc(2026, 6, 1, 15, 3))
    assert plan.planned_at == utc(2026, 6, 2, 13, 30)


@pytest.mark.parametrize(
    "steps",
    [
        [email(0, 1, CHOOSE), task(1, 1), email(2, 1, SAME)],
        [email(0, 1, CHOOSE), email(1, 1, FIXED, time(6, 0)), email(2, 1, SAME)],
    ],
    ids=["after-a-task", "after-an-email"],
)
def test_same_time_on_day_one_goes_right_away(steps: list[StepTiming]) -> None:
    launch = Launch(JUNE, first_send_at=datetime(2026, 6, 1, 10, 0, tzinfo=NY))
    completions = {
        0: Completion(utc(2026, 6, 1, 14, 0), email_time=time(10, 0)),
        1: Completion(utc(2026, 6, 1, 19, 20, 30), email_time=time(6, 0)),
    }
    now = utc(2026, 6, 1, 19, 20, 35)
    plan = plan_step(steps, 2, launch, completions, cal(), now)
    assert plan == Plan(
        2, date(2026, 6, 1), utc(2026, 6, 1, 19, 20, 30), now, right_away=True
    )


def test_right_away_after_a_weekend_completion_waits_for_monday_same_time_of_day() -> None:
    steps = [email(0, 1, CHOOSE), task(1, 1), email(2, 1, SAME)]
    launch = Launch(date(2026, 3, 6), first_send_at=datetime(2026, 3, 6, 9, 0, tzinfo=NY))
    completions = {
        0: Completion(utc(2026, 3, 6, 14, 0), email_time=time(9, 0)),
        1: Completion(utc(2026, 3, 7, 16, 0)),  # Saturday 11:00 EST
    }
    now = utc(2026, 3, 7, 16, 0, 2)
    plan = plan_step(steps, 2, launch, completions, cal(skip_weekends=True), now)
    # Monday 11:00 EDT.
    assert plan == Plan(
        2, date(2026, 3, 9), utc(2026, 3, 9, 15, 0), utc(2026, 3, 9, 15, 0), right_away=True
    )


def test_same_time_as_first_step_goes_right_away_at_launch() -> None:
    now = utc(2026, 6, 1, 17, 45, 9)
    plan = plan_step([email(0, 1, SAME)], 0, Launch(JUNE), {}, cal(), now)
    assert plan == Plan(0, date(2026, 6, 1), None, now, right_away=True)


def test_same_time_after_a_pending_manual_email_is_unknown_in_forecast() -> None:
    steps = [email(0, 1, MANUAL), email(1, 3, SAME), email(2, 4, SAME)]
    plans = forecast(steps, Launch(JUNE), {}, cal(), utc(2026, 6, 1, 12, 0))
    assert plans == [
        Plan(0, date(2026, 6, 1), None, None),
        Plan(1, date(2026, 6, 3), None, None, right_away=True),
        Plan(2, date(2026, 6, 4), None, None, right_away=True),
    ]


def test_same_time_after_a_manual_email_done_without_time_goes_right_away() -> None:
    steps = [email(0, 1, MANUAL), email(1, 3, SAME)]
    completions = {0: Completion(utc(2026, 6, 1, 15, 7))}  # 11:07 EDT, no email_time
    plan = plan_step(steps, 1, Launch(JUNE), completions, cal(), utc(2026, 6, 1, 15, 8))
    assert plan == Plan(
        1, date(2026, 6, 3), utc(2026, 6, 3, 15, 7), utc(2026, 6, 3, 15, 7), right_away=True
    )


# --- choose at launch, fixed time overridden at launch ---------------------------------------


def test_choose_at_launch_on_day_one_is_exactly_the_chosen_instant() -> None:
    chosen = datetime(2026, 6, 1, 21, 40, 30, tzinfo=PARIS)  # 19:40:30Z, 15:40:30 EDT
    steps = [email(0, 1, CHOOSE), email(1, 3, SAME), email(2, 3, SAME)]
    plans = forecast(steps, Launch(JUNE, chosen), {}, cal(), utc(2026, 6, 1, 12, 0))
    assert plans == [
        Plan(0, date(2026, 6, 1), utc(2026, 6, 1, 19, 40, 30), utc(2026, 6, 1, 19, 40, 30)),
        Plan(1, date(2026, 6, 3), utc(2026, 6, 3, 19, 40), utc(2026, 6, 3, 19, 40)),
        Plan(2, date(2026, 6, 3), utc(2026, 6, 3, 19, 40), utc(2026, 6, 3, 19, 40)),
    ]
    assert plans[0].planned_at is not None and plans[0].planned_at.tzinfo is UTC


def test_choose_at_launch_without_a_time_is_refused() -> None:
    with pytest.raises(ValueError, match="choose at launch"):
        plan_step([email(0, 1, CHOOSE)], 0, Launch(JUNE), {}, cal(), utc(2026, 6, 1))


def test_fixed_time_overridden_by_first_send_at() -> None:
    steps = [
        task(0, 1),
        email(1, 1, FIXED, time(9, 30)),  # first email: 15:45 chosen at launch wins
        email(2, 3, FIXED, time(9, 30)),  # not the first email: keeps 09:30
        email(3, 5, SAME),  # copies step 2's 09:30
    ]
    launch = Launch(JUNE, first_send_at=datetime(2026, 6, 1, 15, 45, tzinfo=NY))
    plans = forecast(steps, launch, {}, cal(), utc(2026, 6, 1, 12, 0))
    assert [p.planned_at for p in plans] == [
        None,
        utc(2026, 6, 1, 19, 45),
        utc(2026, 6, 3, 13, 30),
        utc(2026, 6, 5, 13, 30),
    ]


def test_fixed_time_without_override_uses_its_own_time() -> None:
    steps = [email(0, 1, FIXED, time(9, 30))]
    plans = forecast(steps, Launch(JUNE), {}, cal(), utc(2026, 6, 1, 12, 0))
    assert plans == [Plan(0, JUNE, utc(2026, 6, 1, 13, 30), utc(2026, 6, 1, 13, 30))]


@pytest.mark.parametrize("option", [CHOOSE, FIXED])
def test_first_email_on_a_later_day_takes_the_chosen_time_of_day(option: SendOption) -> None:
    steps = [task(0, 1, StepType.LINKEDIN), email(1, 2, option, time(9, 30)), email(2, 3, SAME)]
    # Chosen in UTC: 19:45Z is 15:45 EDT in the campaign's zone.
    launch = Launch(JUNE, first_send_at=utc(2026, 6, 1, 19, 45))
    plans = forecast(steps, launch, {}, cal(), utc(2026, 6, 1, 12, 0))
    assert [p.planned_at for p in plans] == [
        None,
        utc(2026, 6, 2, 19, 45),
        utc(2026, 6, 3, 19, 45),
    ]


def test_chosen_time_moves_with_a_late_task_on_day_one() -> None:
    steps = [task(0, 1), email(1, 1, CHOOSE)]
    launch = Launch(JUNE, first_send_at=datetime(2026, 6, 1, 15, 45, tzinfo=NY))
    completions = {0: Completion(utc(2026, 6, 2, 13, 0))}  # call done on Tuesday
    plan = plan_step(steps, 1, launch, completions, cal(), utc(2026, 6, 2, 13, 0))
    assert plan == Plan(1, date(2026, 6, 2), utc(2026, 6, 2, 19, 45), utc(2026, 6, 2, 19, 45))


# --- past due means now ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "first_send_at", "planned"),
    [
        ([email(0, 1, FIXED, time(9, 30))], None, utc(2026, 6, 1, 13, 30)),
        ([email(0, 1, CHOOSE)], datetime(2026, 6, 1, 9, 0, tzinfo=NY), utc(2026, 6, 1, 13, 0)),
        (
            [email(0, 1, FIXED, time(9, 30))],
            datetime(2026, 6, 1, 10, 59, tzinfo=NY),
            utc(2026, 6, 1, 14, 59),
        ),
    ],
)
def test_past_due_at_launch_is_sent_now_not_skipped(
    steps: list[StepTiming], first_send_at: datetime | None, planned: datetime
) -> None:
    now = datetime(2026, 6, 1, 11, 0, 17, tzinfo=NY)
    plan = plan_step(steps, 0, Launch(JUNE, first_send_at), {}, cal(), now)
    assert plan == Plan(0, JUNE, planned, utc(2026, 6, 1, 15, 0, 17))
    assert plan.due_at is not None and plan.due_at.tzinfo is UTC


# --- late and early completion ---------------------------------------------------------------

# Launched Monday 2 March 2026: day 1 Mon 2, day 3 Wed 4, day 5 Fri 6, day 7 Tue 10 (business
# days) or Sun 8 (calendar days).
MARCH = date(2026, 3, 2)
LATE_STEPS = [email(0, 1, FIXED, time(9, 30)), task(1, 3), email(2, 5, FIXED, time(9, 30))]


@pytest.mark.parametrize(
    ("skip_weekends", "call_done", "expected_date", "expected_at"),
    [
        # Call due Wed (day 3) done Fri (day 5): the day-5 email moves two campaign days on.
        (True, utc(2026, 3, 6, 21, 0), date(2026, 3, 10), utc(2026, 3, 10, 13, 30)),
        (False, utc(2026, 3, 6, 21, 0), date(2026, 3, 8), utc(2026, 3, 8, 13, 30)),
        # Done Saturday: Sat + 2 business days = Tuesday.
        (True, utc(2026, 3, 7, 15, 0), date(2026, 3, 10), utc(2026, 3, 10, 13, 30)),
        # Done Thursday (one day late): Thu + 2 business days = Monday.
        (True, utc(2026, 3, 5, 15, 0), date(2026, 3, 9), utc(2026, 3, 9, 13, 30)),
        # Done late Wednesday evening local (Thursday in UTC): still on time.
        (True, utc(2026, 3, 5, 3, 0), date(2026, 3, 6), utc(2026, 3, 6, 14, 30)),
        # Done on time.
        (True, utc(2026, 3, 4, 15, 0), date(2026, 3, 6), utc(2026, 3, 6, 14, 30)),
        # Done early (on day 1): the email is not pulled forward.
        (True, utc(2026, 3, 2, 18, 0), date(2026, 3, 6), utc(2026, 3, 6, 14, 30)),
        (False, utc(2026, 3, 2, 18, 0), date(2026, 3, 6), utc(2026, 3, 6, 14, 30)),
    ],
)
def test_task_completion_moves_the_next_email(
    skip_weekends: bool, call_done: datetime, expected_date: date, expected_at: datetime
) -> None:
    completions = {
        0: Completion(utc(2026, 3, 2, 14, 30), email_time=time(9, 30)),
        1: Completion(call_done),
    }
    now = call_done.replace(second=1)
    calendar = cal(skip_weekends=skip_weekends)
    plan = plan_step(LATE_STEPS, 2, Launch(MARCH), completions, calendar, now)
    assert plan == Plan(2, expected_date, expected_at, max(expected_at, now))


def test_same_day_step_after_a_late_weekend_task_moves_to_monday() -> None:
    steps = [email(0, 1, FIXED, time(9, 30)), task(1, 3), email(2, 3, FIXED, time(16, 0))]
    completions = {
        0: Completion(utc(2026, 3, 2, 14, 30), email_time=time(9, 30)),
        1: Completion(utc(2026, 3, 7, 15, 0)),  # Saturday
    }
    plan = plan_step(
        steps, 2, Launch(MARCH), completions, cal(skip_weekends=True), utc(2026, 3, 7, 15, 0)
    )
    assert plan == Plan(2, date(2026, 3, 9), utc(2026, 3, 9, 20, 0), utc(2026, 3, 9, 20, 0))


def test_late_completion_keeps_spacing_for_every_later_step() -> None:
    steps = [*LATE_STEPS, task(3, 6, StepType.LINKEDIN), email(4, 8, SAME)]
    completions = {
        0: Completion(utc(2026, 3, 2, 14, 30), email_time=time(9, 30)),
        1: Completion(utc(2026, 3, 6, 21, 0)),  # call done on day 5
    }
    plans = forecast(steps, Launch(MARCH), completions, cal(skip_weekends=True),
                     utc(2026, 3, 6, 21, 1))
    assert [p.due_date for p in plans] == [
        date(2026, 3, 2),
        date(2026, 3, 4),
        date(2026, 3, 10),  # Fri + 2
        date(2026, 3, 11),  # + 1
        date(2026, 3, 13),  # + 2
    ]
    assert plans[4].planned_at == utc(2026, 3, 13, 13, 30)


def test_late_automatic_send_also_keeps_spacing() -> None:
    # The day-1 email was held by the mailbox cap until Tuesday: day 2 goes Wednesday.
    steps = [email(0, 1, FIXED, time(9, 30)), email(1, 2, SAME)]
    completions = {0: Completion(utc(2026, 6, 2, 13, 31), email_time=time(9, 30))}
    plan = plan_step(steps, 1, Launch(JUNE), completions, cal(), utc(2026, 6, 2, 13, 31))
    assert plan == Plan(1, date(2026, 6, 3), utc(2026, 6, 3, 13, 30), utc(2026, 6, 3, 13, 30))


# --- forecast --------------------------------------------------------------------------------

SIX_STEPS = [
    email(0, 1, CHOOSE),
    email(1, 3, SAME),  # copies day 1
    task(2, 3),  # call, pending
    email(3, 3, SAME),  # previous email on day 3 too: copies day 1
    task(4, 5, StepType.LINKEDIN),
    email(5, 7, FIXED, time(8, 0)),
]
SIX_LAUNCH = Launch(MARCH, first_send_at=datetime(2026, 3, 2, 14, 15, tzinfo=NY))  # 19:15Z


def test_forecast_six_steps_with_a_pending_task() -> None:
    completions = {0: Completion(utc(2026, 3, 2, 19, 15, 20), email_time=time(14, 15))}
    now = utc(2026, 3, 3, 15, 0)
    plans = forecast(SIX_STEPS, SIX_LAUNCH, completions, cal(skip_weekends=True), now)
    assert plans == [
        Plan(0, date(2026, 3, 2), utc(2026, 3, 2, 19, 15), now),  # done; its time is past
        Plan(1, date(2026, 3, 4), utc(2026, 3, 4, 19, 15), utc(2026, 3, 4, 19, 15)),
        Plan(2, date(2026, 3, 4), None, None),
        Plan(3, date(2026, 3, 4), utc(2026, 3, 4, 19, 15), utc(2026, 3, 4, 19, 15)),
        Plan(4, date(2026, 3, 6), None, None),
        Plan(5, date(2026, 3, 10), utc(2026, 3, 10, 12, 0), utc(2026, 3, 10, 12, 0)),  # EDT
    ]


def test_forecast_six_steps_after_the_task_is_done_late() -> None:
    completions = {
        0: Completion(utc(2026, 3, 2, 19, 15, 20), email_time=time(14, 15)),
        1: Completion(utc(2026, 3, 4, 19, 15, 4), email_time=time(14, 15)),
        2: Completion(utc(2026, 3, 6, 14, 0)),  # call due Wednesday, done Friday 09:00
    }
    now = utc(2026, 3, 6, 14, 0, 10)
    plans = forecast(SIX_STEPS, SIX_LAUNCH, completions, cal(skip_weekends=True), now)
    assert plans[3:] == [
        Plan(3, date(2026, 3, 6), utc(2026, 3, 6, 19, 15), utc(2026, 3, 6, 19, 15)),
        Plan(4, date(2026, 3, 10), None, None),
        Plan(5, date(2026, 3, 12), utc(2026, 3, 12, 12, 0), utc(2026, 3, 12, 12, 0)),
    ]
    # The next step's forecast is its real plan.
    assert plans[3] == plan_step(
        SIX_STEPS, 3, SIX_LAUNCH, completions, cal(skip_weekends=True), now
    )


def test_forecast_right_away_uses_the_previous_planned_instant() -> None:
    steps = [email(0, 1, FIXED, time(9, 0)), email(1, 1, SAME), task(2, 2), email(3, 2, SAME)]
    plans = forecast(steps, Launch(JUNE), {}, cal(), utc(2026, 6, 1, 12, 0))
    assert plans == [
        Plan(0, date(2026, 6, 1), utc(2026, 6, 1, 13, 0), utc(2026, 6, 1, 13, 0)),
        Plan(1, date(2026, 6, 1), utc(2026, 6, 1, 13, 0), utc(2026, 6, 1, 13, 0), True),
        Plan(2, date(2026, 6, 2), None, None),
        # Previous email (1) on day 1 < 2: copies its time, which is right away (none): the
        # step before is a pending task, so its instant is not known.
        Plan(3, date(2026, 6, 2), None, None, right_away=True),
    ]


# --- preconditions ---------------------------------------------------------------------------


def test_plan_step_refuses_when_a_previous_step_is_not_done() -> None:
    completions = {0: Completion(utc(2026, 3, 2, 14, 30), email_time=time(9, 30))}
    with pytest.raises(ValueError, match="not done"):
        plan_step(LATE_STEPS, 2, Launch(MARCH), completions, cal(), utc(2026, 3, 4))


@pytest.mark.parametrize(
    ("steps", "position", "now"),
    [
        (LATE_STEPS, 3, utc(2026, 3, 2)),  # no such step
        (LATE_STEPS, -1, utc(2026, 3, 2)),
        ([email(0, 2, FIXED, time(9, 0)), email(1, 1, SAME)], 0, utc(2026, 3, 2)),  # days back
        ([email(1, 1, FIXED, time(9, 0))], 0, utc(2026, 3, 2)),  # position is not the index
        ([email(0, 0, FIXED, time(9, 0))], 0, utc(2026, 3, 2)),  # day 0
        ([email(0, 1, None)], 0, utc(2026, 3, 2)),  # email without send option
        ([email(0, 1, FIXED)], 0, utc(2026, 3, 2)),  # fixed time without a time
        (LATE_STEPS, 0, datetime(2026, 3, 2, 9, 0)),  # naive now
    ],
)
def test_plan_step_refuses_bad_input(
    steps: list[StepTiming], position: int, now: datetime
) -> None:
    with pytest.raises(ValueError):
        plan_step(steps, position, Launch(MARCH), {}, cal(), now)


def test_tasks_have_a_date_but_no_time() -> None:
    steps = [task(0, 1, StepType.CUSTOM), email(1, 2, MANUAL), task(2, 2, StepType.LINKEDIN)]
    plans = forecast(steps, Launch(JUNE), {}, cal(), utc(2026, 6, 1, 12, 0))
    assert plans == [
        Plan(0, date(2026, 6, 1), None, None),
        Plan(1, date(2026, 6, 2), None, None),
        Plan(2, date(2026, 6, 2), None, None),
    ]


# --- purity ----------------------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[2] / "addin_server"
MODULE = PACKAGE / "campaigns" / "timing.py"


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(MODULE.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            modules.add(node.module)
    return modules


def test_module_imports_no_framework() -> None:
    # The package's __init__ builds the Flask app, so check the module's own imports.
    assert _imported_modules() <= {
        "__future__",
        "collections.abc",
        "dataclasses",
        "datetime",
        "zoneinfo",
        "addin_server.enums",
    }
    enums = (PACKAGE / "enums.py").read_text()
    assert not {"flask", "sqlalchemy", "redis"} & set(enums.lower().split())


def test_module_never_reads_the_clock() -> None:
    tree = ast.parse(MODULE.read_text())
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    clock = {"now", "utcnow", "today", "monotonic", "localtime", "gmtime", "perf_counter"}
    assert not called & clock
    assert "time" not in _imported_modules()  # the time module; datetime.time is a class
