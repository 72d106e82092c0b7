"""Input checking shared by the API, the CSV import and the add-ins.

Every error names the field it is about (`steps[2].send_time`), so a client can show it beside
that field. Nothing is written until a whole payload is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(Exception):
    """A payload is invalid; carries every error found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass
class Errors:
    """Collects errors while a payload is read; `raise_if_any` at the end."""

    items: list[FieldError] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(FieldError(where, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@" + _LABEL + r"(?:\." + _LABEL + r")+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


_BREAKS = re.compile("[\r\n\x00\u2028\u2029\x85]")


def has_line_break(value: str) -> bool:
    """CR or LF (or the other line separators mail software honours) in a header-bound value."""
    # One regex scan rather than six `in` scans: it runs on every field of every person a
    # launch reads (bench/launch.py).
    return _BREAKS.search(value) is not None


def get_str(
    data: dict[str, Any],
    key: str,
    where: str,
    errors: Errors,
    *,
    required: bool = False,
    max_len: int = 1000,
    header: bool = False,
    default: str = "",
) -> str:
    """A string field; `header` refuses line breaks (the value can reach an email header)."""
    if key not in data or data[key] is None:
        if required:
            errors.add(where, "is required")
        return default
    value = data[key]
    if not isinstance(value, str):
        errors.add(where, "must be a string")
        return default
    if len(value) > max_len:
        errors.add(where, f"must be at most {max_len} characters")
        return default
    if header and has_line_break(value):
        errors.add(where, "must not contain line breaks")
        return default
    return value


def get_bool(data: dict[str, Any], key: str, where: str, errors: Errors, default: bool) -> bool:
    if key not in data or data[key] is None:
        return default
    if not isinstance(data[key], bool):
        errors.add(where, "must be true or false")
        return default
    return bool(data[key])


def get_int(
    data: dict[str, Any], key: str, where: str, errors: Errors, *, required: bool = False
) -> int | None:
    if key not in data or data[key] is None:
        if required:
            errors.add(where, "is required")
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(where, "must be an integer")
        return None
    return value


def parse_email(value: Any, where: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "is required" if not value else "must be a string")
        return None
    email = value.strip()
    if has_line_break(email) or len(email) > 320 or not _EMAIL.match(email):
        errors.add(where, "is not a valid email address")
        return None
    return email.lower()


def domain_of(email: str) -> str:
    """The domain of an address, lower-case ("" when there is no @)."""
    return email.rpartition("@")[2].lower()


def parse_timezone(value: Any, where: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not value:
        errors.add(where, "must be an IANA time zone name such as Europe/Paris")
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        errors.add(where, f"unknown time zone {value!r}; use an IANA name such as Europe/Paris")
        return None
    return value


def parse_hhmm(value: Any, where: str = "", errors: Errors | None = None) -> time | None:
    """A time of day written HH:MM (24-hour). Checking input, pass `errors`: anything else is
    reported there under `where`. Reading a stored value (checked when it was written), leave
    it out: an empty value is no time, a malformed one raises ValueError."""
    if errors is None and not value:
        return None
    if not isinstance(value, str) or not _HHMM.match(value):
        if errors is None:
            raise ValueError(f"not a time of day HH:MM: {value!r}")
        errors.add(where, "must be a time of day as HH:MM (24-hour)")
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_date(value: Any, where: str, errors: Errors) -> date | None:
    if not isinstance(value, str):
        errors.add(where, "must be a date as YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(where, "must be a date as YYYY-MM-DD")
        return None


def parse_instant(value: Any, where: str, errors: Errors) -> datetime | None:
    """An ISO 8601 date-time with an offset (a bare local time would be ambiguous)."""
    if not isinstance(value, str):
        errors.add(where, "must be an ISO 8601 date-time with an offset")
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.add(where, "must be an ISO 8601 date-time with an offset")
        return None
    if parsed.tzinfo is None:
        errors.add(where, "needs an offset such as +01:00 or Z")
        return None
    return parsed
