"""The organisation's settings (Organisation.settings, JSON; admins change them): what new
campaigns start from, and who may launch people on a colleague's campaign.

    default_timezone     new campaigns' zone (none: the rep's own)
    working_days         ["mon", ..., "fri"]: new campaigns skip weekends unless Saturday or
                         Sunday is a working day, and send only on these days when they are
                         not Monday to Friday (a whole-day sending window)
    holiday_countries    ["FR", "US-CA"]: new campaigns send nothing on their public holidays
    stop_rules           {"stop_on_reply": true, ...}: new campaigns' stop rules
    shared_launch        "owner_and_admins" (a campaign's owner and admins launch people on
                         it) or "all_reps" (any rep of the organisation may, from their own
                         mailbox)

The organisation's own domains (sign-in, colleague warnings) are Organisation.signin_domains
(accounts.org_domains). Pure: no database.
"""

from __future__ import annotations

from typing import Any

from addin_server.campaigns.calendar import DAY_NAMES
from addin_server.campaigns.settings import check_countries
from addin_server.validation import Errors, parse_timezone

STOP_RULES = {"stop_on_reply": True, "mark_success_on_reply": False, "remove_on_bounce": True,
              "reply_from_same_domain": False, "stop_other_campaigns_on_reply": False,
              "stop_company_on_colleague_reply": False, "skip_if_active_elsewhere": False}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
SHARED_LAUNCH = ("owner_and_admins", "all_reps")


def org_settings(stored: dict[str, Any] | None) -> dict[str, Any]:
    """Every setting, with its default where the organisation set none."""
    stored = stored or {}
    return {
        "default_timezone": stored.get("default_timezone"),
        "working_days": list(stored.get("working_days") or WEEKDAYS),
        "holiday_countries": list(stored.get("holiday_countries") or []),
        "stop_rules": {k: bool((stored.get("stop_rules") or {}).get(k, default))
                       for k, default in STOP_RULES.items()},
        "shared_launch": stored.get("shared_launch") or "owner_and_admins",
    }


def parse_patch(data: dict[str, Any], errors: Errors, stored: dict[str, Any] | None
                ) -> dict[str, Any]:
    """The stored settings after a change (only keys given change; null puts one back to its
    default)."""
    out = dict(stored or {})
    if "default_timezone" in data:
        value = data["default_timezone"]
        if value is None:
            out.pop("default_timezone", None)
        elif parse_timezone(value, "default_timezone", errors):
            out["default_timezone"] = value
    for key in ("working_days", "stop_rules", "shared_launch"):
        if key in data and data[key] is None:
            out.pop(key, None)  # back to the default
    if data.get("working_days") is not None:
        days = data["working_days"]
        if (not isinstance(days, list) or not days
                or not all(isinstance(d, str) and d.lower() in DAY_NAMES for d in days)):
            errors.add("working_days", "must be a non-empty list of " + ", ".join(DAY_NAMES))
        else:
            wanted = {d.lower() for d in days}
            out["working_days"] = [d for d in DAY_NAMES if d in wanted]
    if "holiday_countries" in data:
        codes = data["holiday_countries"]
        if codes is None:
            out.pop("holiday_countries", None)
        elif check_countries(codes, errors, "holiday_countries"):
            out["holiday_countries"] = [c.upper() for c in codes]
    if data.get("stop_rules") is not None:
        rules = data["stop_rules"]
        if not isinstance(rules, dict):
            errors.add("stop_rules", "must be an object")
        else:
            merged = dict(out.get("stop_rules") or {})
            for key, value in rules.items():
                if key not in STOP_RULES:
                    continue  # unknown keys are ignored, as in every body
                if not isinstance(value, bool):
                    errors.add(f"stop_rules.{key}", "must be true or false")
                else:
                    merged[key] = value
            out["stop_rules"] = merged
    if data.get("shared_launch") is not None:
        if data["shared_launch"] not in SHARED_LAUNCH:
            errors.add("shared_launch", "must be one of " + ", ".join(SHARED_LAUNCH))
        else:
            out["shared_launch"] = data["shared_launch"]
    return out


def campaign_defaults(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A new campaign's `settings` object (the API's shape) from the organisation's."""
    s = org_settings(stored)
    days = s["working_days"]
    out: dict[str, Any] = dict(s["stop_rules"])
    out["skip_weekends"] = "sat" not in days and "sun" not in days
    out["holiday_countries"] = s["holiday_countries"]
    # Monday to Friday is what skipping weekends already does; other working weeks need a
    # window that keeps emails to those days (the whole day: hours are the campaign's choice).
    out["sending_window"] = (None if days in (WEEKDAYS, list(DAY_NAMES))
                             else {"days": days, "start": "00:00", "end": "23:59"})
    return out


def may_launch_on(rep_is_admin: bool, rep_id: int, owner_id: int,
                  stored: dict[str, Any] | None) -> bool:
    """May this rep launch people on a campaign of their organisation owned by `owner_id`?"""
    return (rep_is_admin or rep_id == owner_id
            or org_settings(stored)["shared_launch"] == "all_reps")
