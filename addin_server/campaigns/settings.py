"""The campaign settings kept in Campaign.extra_settings (JSON): reading, checking, defaults.

    reply_from_same_domain          a reply from the person's company domain counts as theirs
    stop_other_campaigns_on_reply   a reply also ends the person's other campaigns
    stop_company_on_colleague_reply a colleague's reply ends every enrollment at that company
    sending_window                  {"days": ["mon", ...], "start": "08:00", "end": "18:00"}
    holiday_countries               ["FR", "US-CA", ...]: no sends on their public holidays
    skip_if_active_elsewhere        a launch skips people live in another campaign of the
                                    organisation; off: enrolled, with a warning

Pure: no database.
"""

from __future__ import annotations

from typing import Any

import holidays as holidays_lib

from addin_server.campaigns.calendar import DAY_NAMES, split_country
from addin_server.validation import Errors, parse_hhmm

BOOL_KEYS = ("reply_from_same_domain", "stop_other_campaigns_on_reply",
             "skip_if_active_elsewhere",
             "stop_company_on_colleague_reply")


def parse_extra(data: Any, errors: Errors, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The extra settings from a campaign's `settings` object (only keys given change)."""
    out: dict[str, Any] = dict(base or {})
    if not isinstance(data, dict):
        return out
    for key in BOOL_KEYS:
        if key in data:
            if not isinstance(data[key], bool):
                errors.add(f"settings.{key}", "must be true or false")
            else:
                out[key] = data[key]
    if "sending_window" in data:
        window = data["sending_window"]
        if window is None:
            out.pop("sending_window", None)
        elif _check_window(window, errors):
            out["sending_window"] = {"days": [d.lower() for d in window["days"]],
                                     "start": window["start"], "end": window["end"]}
    if "holiday_countries" in data:
        codes = data["holiday_countries"]
        if codes is None:
            out.pop("holiday_countries", None)
        elif check_countries(codes, errors):
            out["holiday_countries"] = [c.upper() for c in codes]
    return out


def _check_window(window: Any, errors: Errors) -> bool:
    where = "settings.sending_window"
    if not isinstance(window, dict):
        errors.add(where, "must be an object with days, start and end")
        return False
    before = len(errors.items)
    days = window.get("days")
    if (not isinstance(days, list) or not days or not all(
            isinstance(d, str) and d.lower() in DAY_NAMES for d in days)):
        errors.add(f"{where}.days", "must be a non-empty list of " + ", ".join(DAY_NAMES))
    start = parse_hhmm(window.get("start"), f"{where}.start", errors)
    end = parse_hhmm(window.get("end"), f"{where}.end", errors)
    if start is not None and end is not None and end <= start:
        errors.add(f"{where}.end", "must be after start (windows do not cross midnight)")
    return len(errors.items) == before


def check_countries(codes: Any, errors: Errors,
                    where: str = "settings.holiday_countries") -> bool:
    """A list of at most 10 supported holiday country codes ("FR", "US-CA")."""
    if not isinstance(codes, list) or len(codes) > 10:
        errors.add(where, "must be a list of at most 10 country codes (e.g. FR, US-CA)")
        return False
    supported = holidays_lib.list_supported_countries()
    ok = True
    for i, code in enumerate(codes):
        if not isinstance(code, str):
            errors.add(f"{where}[{i}]", "must be a string")
            ok = False
            continue
        country, subdiv = split_country(code)
        if country not in supported or (subdiv is not None and subdiv not in supported[country]):
            errors.add(f"{where}[{i}]", f"{code!r} is not a supported country (ISO 3166, "
                       "optionally -SUBDIVISION)")
            ok = False
    return ok


def flag(extra: dict[str, Any] | None, key: str) -> bool:
    return bool((extra or {}).get(key, False))
