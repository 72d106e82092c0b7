"""A campaign's calendar: sending windows, public holidays and the zone a person's steps are
timed in.

`next_allowed` is pure (`now` and zones are arguments); the rest reads a Campaign row's
settings (Campaign.extra_settings) into those pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from addin_server import dates
from addin_server.campaigns.timing import CampaignCalendar, local_instant
from addin_server.models import Campaign

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SendingWindow:
    """Allowed days (0 = Monday) and hours [start, end) in local time."""

    days: frozenset[int] = frozenset(range(5))
    start: time = time(8, 0)
    end: time = time(18, 0)

    def describe(self) -> str:
        days = sorted(self.days)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            names = f"{DAY_NAMES[days[0]].title()}-{DAY_NAMES[days[-1]].title()}"
        else:
            names = ",".join(DAY_NAMES[d].title() for d in days)
        return f"{names} {self.start:%H:%M}-{self.end:%H:%M}"


def _allowed_day(d: date, window: SendingWindow | None, holidays: frozenset[date]) -> bool:
    if d in holidays:
        return False
    return window is None or d.weekday() in window.days


def next_allowed(
    instant: datetime,
    window: SendingWindow | None,
    tz: ZoneInfo,
    holidays: frozenset[date] = frozenset(),
) -> datetime:
    """The first instant at or after `instant` inside the window, on a day that is no holiday.

    Window edges are wall-clock times in `tz`, so they stay put across DST changes (08:00 is
    07:00 UTC in winter and 06:00 UTC in summer in Paris).
    """
    if window is None and not holidays:
        return instant
    local = instant.astimezone(tz)
    d = local.date()
    for _ in range(400):
        if _allowed_day(d, window, holidays):
            if window is None:
                return instant if d == local.date() else local_instant(d, time(0, 0), tz)
            opens = local_instant(d, window.start, tz)
            closes = local_instant(d, window.end, tz)
            if instant < closes:
                return max(instant, opens)
        d += timedelta(days=1)
    raise ValueError("the sending window allows no day within a year")


def split_country(code: str) -> tuple[str, str | None]:
    country, _, subdiv = code.upper().partition("-")
    return country, subdiv or None


def window_of(extra: dict[str, Any] | None) -> SendingWindow | None:
    raw = (extra or {}).get("sending_window")
    if not raw:
        return None
    h1, m1 = raw["start"].split(":")
    h2, m2 = raw["end"].split(":")
    return SendingWindow(days=frozenset(DAY_NAMES.index(d) for d in raw["days"]),
                         start=time(int(h1), int(m1)), end=time(int(h2), int(m2)))


@lru_cache(maxsize=256)
def _holiday_dates(code: str, first_year: int, last_year: int) -> frozenset[date]:
    country, subdiv = split_country(code)
    found = holidays_lib.country_holidays(country, subdiv=subdiv,
                                          years=range(first_year, last_year + 1))
    return frozenset(found.keys())


def holidays_of(extra: dict[str, Any] | None, around: int) -> frozenset[date]:
    """Public holidays of the campaign's countries from the year before `around` to two
    years after (a campaign lasts months, not years)."""
    dates: frozenset[date] = frozenset()
    for code in (extra or {}).get("holiday_countries", []):
        dates |= _holiday_dates(code, around - 1, around + 2)
    return dates


def zone_for(campaign: Campaign, person_timezone: str | None) -> str:
    """The zone a person's steps are timed in: theirs when the campaign asks and it is known."""
    if campaign.use_recipient_timezone and person_timezone:
        return person_timezone
    return campaign.timezone


def calendar_for(campaign: Campaign, person_timezone: str | None) -> CampaignCalendar:
    # Holidays of the campaign's countries (extra_settings.holiday_countries) are no campaign
    # days, for a few years around the campaign's creation.
    year = campaign.created_at.year if campaign.created_at else date.today().year
    return CampaignCalendar(
        tz=ZoneInfo(zone_for(campaign, person_timezone)), skip_weekends=campaign.skip_weekends,
        holidays=holidays_of(campaign.extra_settings, year),
    )


def window_due(campaign: Campaign, person_timezone: str | None, due_at: datetime
               ) -> tuple[datetime, str]:
    """`due_at` moved into the campaign's sending window (in the zone the person's steps are
    timed in) and off its holidays; the reason when it moved."""
    window = window_of(campaign.extra_settings)
    cal = calendar_for(campaign, person_timezone)
    moved = next_allowed(due_at, window, cal.tz, cal.holidays)
    if moved == due_at:
        return due_at, ""
    local = dates.absolute(moved, cal.tz.key, named=True)
    if window is not None:
        return moved, f"outside the sending window {window.describe()} {cal.tz.key}: " \
                      f"expected {local}"
    return moved, f"holiday: expected {local}"
