"""The pure rules behind editing a live campaign (campaigns/timing.py): which steps' timing
changed, and where a scheduled send goes once its step plans differently."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from addin_server.campaigns.timing import (
    CampaignCalendar,
    Launch,
    Plan,
    StepTiming,
    changed_timings,
    plan_step,
    rescheduled_due,
)
from addin_server.enums import SendOption, StepType

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 in Paris


def email(position: int, day: int, at: str | None = "10:00",
          option: SendOption = SendOption.FIXED_TIME) -> StepTiming:
    return StepTiming(position, day, StepType.EMAIL, option,
                      time.fromisoformat(at) if at else None)


BASE = (email(0, 1), email(1, 3, None, SendOption.SAME_TIME_AS_PREVIOUS),
        StepTiming(2, 4, StepType.CALL))


@pytest.mark.parametrize(("new", "changed"), [
    (BASE, set()),
    ((email(0, 1, "11:30"), *BASE[1:]), {0}),
    ((BASE[0], email(1, 4, None, SendOption.SAME_TIME_AS_PREVIOUS), BASE[2]), {1}),
    ((*BASE, StepTiming(3, 6, StepType.LINKEDIN)), {3}),
    (BASE[:1], {1, 2}),
    ((BASE[0], BASE[1], StepTiming(2, 4, StepType.CUSTOM)), {2}),
])
def test_changed_timings(new: tuple[StepTiming, ...], changed: set[int]) -> None:
    assert changed_timings(BASE, new) == changed


def test_a_new_time_moves_the_send_and_the_same_time_leaves_it() -> None:
    cal = CampaignCalendar(PARIS)
    launch = Launch(start_date=date(2026, 11, 24))
    old = plan_step(BASE, 0, launch, {}, cal, NOW)
    assert old.planned_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert rescheduled_due(old.planned_at, old) is None
    # A pacing delay moved due_at, not planned_at: an unrelated save leaves it alone.
    assert rescheduled_due(old.planned_at, plan_step(BASE, 0, launch, {}, cal, NOW)) is None
    later = plan_step((email(0, 1, "11:30"), *BASE[1:]), 0, launch, {}, cal, NOW)
    assert rescheduled_due(old.planned_at, later) == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    # Moved to a time already past: now, as at launch.
    earlier = plan_step((email(0, 1, "08:30"), *BASE[1:]), 0, launch, {}, cal, NOW)
    assert earlier.planned_at == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    assert rescheduled_due(old.planned_at, earlier) == NOW


def test_right_away_has_no_time_to_move_to() -> None:
    plan = Plan(1, date(2026, 11, 24), None, None, right_away=True)
    assert rescheduled_due(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), plan) is None
    with pytest.raises(ValueError):
        rescheduled_due(datetime(2026, 11, 24, 9, 0),  # naive: a caller's mistake
                        Plan(0, date(2026, 11, 24), NOW, NOW))
