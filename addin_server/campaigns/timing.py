"""Timing rules: when is step k due for this person? Pure functions.

Imports nothing from Flask, SQLAlchemy or Redis and never reads the clock: `now` and the time
zone are arguments. See docs/timing.md for the rules in prose; the tests pin them to the minute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from addin_server.enums import SendOption, StepType


@dataclass(frozen=True)
class StepTiming:
    """What the timing rules need to know about one step of a campaign."""

    position: int  # 0-based index in the campaign's step list
    day: int  # 1-based campaign day (a position, not a delay)
    type: StepType
    send_option: SendOption | None = None  # None for call / linkedin / custom steps
    send_time: time | None = None  # local time of day, for fixed_time


@dataclass(frozen=True)
class CampaignCalendar:
    """Where campaign days fall: the zone used for this person, weekends, holidays."""

    tz: ZoneInfo
    skip_weekends: bool = False
    holidays: frozenset[date] = frozenset()  # never a campaign day, whatever skip_weekends says


@dataclass(frozen=True)
class Launch:
    """What the rep chose when adding the person."""

    start_date: date  # campaign day 1, before moving off a weekend or holiday
    first_send_at: datetime | None = None  # aware; choose_at_launch time or fixed_time override


@dataclass(frozen=True)
class Completion:
    """A step that is done: sent, completed or skipped."""

    at: datetime  # aware instant it was done
    # For email steps: the local time of day that "same time as previous" copies: the planned
    # time for an automatic send, the time it went out for an email the rep sent by hand.
    email_time: time | None = None


@dataclass(frozen=True)
class Plan:
    """When a step falls."""

    position: int
    due_date: date  # local campaign date of the step
    planned_at: datetime | None  # UTC; the time the rules give, before "past means now"
    due_at: datetime | None  # UTC; planned_at, or `now` if that is already past
    right_away: bool = False  # same_time_as_previous with no earlier-day email to copy


def is_campaign_day(d: date, cal: CampaignCalendar) -> bool:
    """True when `d` can hold a campaign day (not a skipped weekend day, not a holiday)."""
    if d in cal.holidays:
        return False
    return not (cal.skip_weekends and d.weekday() >= 5)


def add_campaign_days(d: date, n: int, cal: CampaignCalendar) -> date:
    """The date `n` campaign days after `d` (`d` itself need not be a campaign day).

    `n == 0` gives the first campaign day on or after `d`. Otherwise the walk goes forward one
    calendar day at a time and counts only campaign days, so from a Saturday (weekends skipped)
    one campaign day later is the Monday.
    """
    if n < 0:
        raise ValueError(f"cannot go back {-n} campaign days")
    one_day = timedelta(days=1)
    if n == 0:
        while not is_campaign_day(d, cal):
            d += one_day
        return d
    while n > 0:
        d += one_day
        if is_campaign_day(d, cal):
            n -= 1
    return d


def day_date(start: date, day: int, cal: CampaignCalendar) -> date:
    """The local date of campaign day `day` for a person whose day 1 is `start`."""
    if day < 1:
        raise ValueError(f"campaign days start at 1, got {day}")
    return add_campaign_days(add_campaign_days(start, 0, cal), day - 1, cal)


def local_instant(d: date, t: time, tz: ZoneInfo) -> datetime:
    """`d` at wall-clock `t` in `tz`, as a UTC instant (a time in a DST gap moves forward).

    Seconds are dropped. In a spring-forward gap, fold=0 reads the wall time with the offset in
    force before the change, which lands the same distance past the gap (02:30 -> 03:30 when the
    clocks jump an hour). An ambiguous fall-back time takes its first occurrence (fold=0).
    """
    wall = datetime(d.year, d.month, d.day, t.hour, t.minute, tzinfo=tz, fold=0)
    return wall.astimezone(UTC)


# --- private helpers -------------------------------------------------------------------------


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {value!r}")


def _minute(t: time) -> time:
    return time(t.hour, t.minute)


def _local_time(instant: datetime, tz: ZoneInfo) -> time:
    return _minute(instant.astimezone(tz).time())


def _check_steps(steps: Sequence[StepTiming]) -> None:
    previous_day = 1
    for index, step in enumerate(steps):
        if step.position != index:
            raise ValueError(f"step at index {index} has position {step.position}")
        if step.day < previous_day:
            raise ValueError(
                f"step {index} is on day {step.day}, before day {previous_day}: "
                "days must be >= 1 and non-decreasing"
            )
        previous_day = step.day


def _is_email(step: StepTiming) -> bool:
    return step.type == StepType.EMAIL


def _is_task(step: StepTiming) -> bool:
    """Call / linkedin / custom steps and manual-task emails: a due date, no send time."""
    return not _is_email(step) or step.send_option == SendOption.MANUAL_TASK


def _first_email(steps: Sequence[StepTiming]) -> int | None:
    return next((i for i, s in enumerate(steps) if _is_email(s)), None)


def _previous_email(steps: Sequence[StepTiming], position: int) -> int | None:
    return next((i for i in range(position - 1, -1, -1) if _is_email(steps[i])), None)


def _last_email_before_day(steps: Sequence[StepTiming], position: int, day: int) -> int | None:
    return next(
        (i for i in range(position - 1, -1, -1) if _is_email(steps[i]) and steps[i].day < day),
        None,
    )


def _rule_anchor(
    steps: Sequence[StepTiming],
    position: int,
    launch: Launch,
    completions: Mapping[int, Completion],
    cal: CampaignCalendar,
) -> time | None:
    """The local time of day the rules give an email step, ignoring its own completion."""
    step = steps[position]
    option = step.send_option
    if option is None:
        raise ValueError(f"email step {position} has no send option")
    if option == SendOption.MANUAL_TASK:
        return None
    if option == SendOption.CHOOSE_AT_LAUNCH:
        if launch.first_send_at is None:
            raise ValueError(
                f"email step {position} is 'choose at launch' but the launch has no send time"
            )
        return _local_time(launch.first_send_at, cal.tz)
    if option == SendOption.FIXED_TIME:
        if position == _first_email(steps) and launch.first_send_at is not None:
            return _local_time(launch.first_send_at, cal.tz)
        if step.send_time is None:
            raise ValueError(f"email step {position} is 'fixed time' but has no send time")
        return _minute(step.send_time)
    # same_time_as_previous
    previous = _previous_email(steps, position)
    if previous is None:
        return None
    if steps[previous].day < step.day:
        return _anchor(steps, previous, launch, completions, cal)
    earlier = _last_email_before_day(steps, position, step.day)
    if earlier is None:
        return None
    return _anchor(steps, earlier, launch, completions, cal)


def _anchor(
    steps: Sequence[StepTiming],
    position: int,
    launch: Launch,
    completions: Mapping[int, Completion],
    cal: CampaignCalendar,
) -> time | None:
    """The time of day a later "same time as previous" email copies from email step `position`."""
    done = completions.get(position)
    if done is not None and done.email_time is not None:
        return _minute(done.email_time)
    return _rule_anchor(steps, position, launch, completions, cal)


def _plan(
    steps: Sequence[StepTiming],
    position: int,
    launch: Launch,
    completions: Mapping[int, Completion],
    cal: CampaignCalendar,
    now: datetime,
    previous_date: date | None,
    previous_instant: datetime | None,
) -> Plan:
    """Plan step `position` given when the step before it was (or is assumed to be) done.

    `previous_date` is the local date that step was done on, `previous_instant` the instant
    (None when unknown, e.g. a task in a forecast); both None for the first step.
    """
    # The send options' rules in one place, a branch per option, in the product's order
    # (docs/sending.md); splitting them would hide that they share the anchors computed first.
    step = steps[position]
    day_one = day_date(launch.start_date, 1, cal)
    due_date = add_campaign_days(day_one, step.day - 1, cal)
    if position > 0 and previous_date is not None:
        gap = step.day - steps[position - 1].day
        due_date = max(due_date, add_campaign_days(previous_date, gap, cal))

    if _is_task(step):
        return Plan(position, due_date, None, None)

    now_utc = now.astimezone(UTC)
    first_send_at = launch.first_send_at
    if (
        first_send_at is not None
        and position == _first_email(steps)
        and step.send_option in (SendOption.CHOOSE_AT_LAUNCH, SendOption.FIXED_TIME)
        and step.day == 1
        and due_date == day_one
    ):
        planned = first_send_at.astimezone(UTC)
        return Plan(position, due_date, planned, max(planned, now_utc))

    anchor = _rule_anchor(steps, position, launch, completions, cal)
    if anchor is not None:
        planned = local_instant(due_date, anchor, cal.tz)
        return Plan(position, due_date, planned, max(planned, now_utc))

    # Right away: "same time as previous" with no earlier-day email time to copy.
    if position == 0:
        return Plan(position, due_date, None, now_utc, right_away=True)
    if previous_instant is None:
        return Plan(position, due_date, None, None, right_away=True)
    local_previous = previous_instant.astimezone(cal.tz)
    if local_previous.date() >= due_date:
        planned = previous_instant.astimezone(UTC)
    else:
        # The step before was done on an earlier date than this step may fall (a weekend, a
        # holiday, a later day): go on the due date at the time of day it was done.
        planned = local_instant(due_date, local_previous.time(), cal.tz)
    return Plan(position, due_date, planned, max(planned, now_utc), right_away=True)


def _validate(
    steps: Sequence[StepTiming],
    launch: Launch,
    completions: Mapping[int, Completion],
    now: datetime,
) -> None:
    _check_steps(steps)
    _require_aware(now, "now")
    if launch.first_send_at is not None:
        _require_aware(launch.first_send_at, "first_send_at")
    for position, done in completions.items():
        _require_aware(done.at, f"completion of step {position}")


# --- public entry points -------------------------------------------------------------------


def plan_step(
    steps: Sequence[StepTiming],
    position: int,
    launch: Launch,
    completions: Mapping[int, Completion],
    cal: CampaignCalendar,
    now: datetime,
) -> Plan:
    """The real schedule of step `position`, once every step before it is in `completions`."""
    _validate(steps, launch, completions, now)
    if not 0 <= position < len(steps):
        raise ValueError(f"no step at position {position} (campaign has {len(steps)} steps)")
    missing = [i for i in range(position) if i not in completions]
    if missing:
        raise ValueError(f"step {position} cannot be planned: steps {missing} are not done yet")
    if position == 0:
        return _plan(steps, 0, launch, completions, cal, now, None, None)
    previous_at = completions[position - 1].at
    return _plan(
        steps,
        position,
        launch,
        completions,
        cal,
        now,
        previous_at.astimezone(cal.tz).date(),
        previous_at,
    )


def forecast(
    steps: Sequence[StepTiming],
    launch: Launch,
    completions: Mapping[int, Completion],
    cal: CampaignCalendar,
    now: datetime,
) -> list[Plan]:
    """A plan for every step, assuming each step not yet done happens on time.

    A step not done is assumed done on its own due date, at its planned instant when it has one.
    Done steps are planned from their own predecessors, like the rest.
    """
    _validate(steps, launch, completions, now)
    plans: list[Plan] = []
    for position in range(len(steps)):
        previous_date: date | None = None
        previous_instant: datetime | None = None
        if position > 0:
            done = completions.get(position - 1)
            if done is not None:
                previous_instant = done.at
                previous_date = done.at.astimezone(cal.tz).date()
            else:
                previous_instant = plans[-1].planned_at
                previous_date = plans[-1].due_date
        plans.append(
            _plan(
                steps,
                position,
                launch,
                completions,
                cal,
                now,
                previous_date,
                previous_instant,
            )
        )
    return plans


# --- a live campaign changed ---------------------------------------------------------------


def changed_timings(old: Sequence[StepTiming], new: Sequence[StepTiming]) -> frozenset[int]:
    """Positions whose timing differs between two versions of a campaign's steps: a changed
    day, type, send option or time, and every position only one of them has (added, removed)."""
    longest = max(len(old), len(new))
    return frozenset(
        i for i in range(longest)
        if i >= len(old) or i >= len(new) or old[i] != new[i])


def rescheduled_due(current_planned: datetime | None, plan: Plan) -> datetime | None:
    """The new due instant of a send not yet claimed, now that its step plans as `plan`; None
    when the rules give the time it already has (it keeps whatever a cap or window made of it).

    A new time already past means "now", as at launch (`plan.due_at` is never before `now`).
    """
    if plan.due_at is None or plan.planned_at is None:
        return None  # "right away" has no time of its own: the send keeps its time
    if current_planned is not None:
        _require_aware(current_planned, "current_planned")
        if current_planned.astimezone(UTC) == plan.planned_at:
            return None
    return plan.due_at
