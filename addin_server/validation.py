"""Input checking shared by the API, the CSV import and the add-ins.

Every error names the field it is about (`steps[2].send_time`), so a client can show it beside
that field. Nothing is written until a whole payload is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

# Ids are 32-bit on PostgreSQL (INTEGER): anything larger names no row, on either database.
MAX_ID = 2**31 - 1
# The dates and instants the service plans with. Outside them a date is a typo or a probe, and
# arithmetic on it (a step 300 days later, a zone offset) would overflow `datetime`.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)

# The longest subject every client we open a compose window in accepts: Outlook refuses more
# than 255 characters (Gmail and RFC 5322 would take more), so every subject is held to it.
SUBJECT_MAX = 255


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
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"\\]+@" + _LABEL + r"(?:\." + _LABEL + r")+")
# Used with fullmatch: `$` would also match before a final newline ("09:30\n").
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
# Text the databases cannot store (NUL on PostgreSQL) or encode (a lone UTF-16 surrogate).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


UNSTORABLE_MESSAGE = "must not contain NUL or unpaired surrogate characters"


def unstorable(value: str) -> bool:
    """True when text holds a NUL or a lone surrogate: refused on both databases."""
    return _UNSTORABLE.search(value) is not None


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
    if unstorable(value):
        errors.add(where, UNSTORABLE_MESSAGE)
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
    data: dict[str, Any], key: str, where: str, errors: Errors, *, required: bool = False,
    minimum: int = -MAX_ID, maximum: int = MAX_ID,
) -> int | None:
    if key not in data or data[key] is None:
        if required:
            errors.add(where, "is required")
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(where, "must be an integer")
        return None
    if not minimum <= value <= maximum:
        errors.add(where, f"must be an integer from {minimum} to {maximum}")
        return None
    return value


def get_id(data: dict[str, Any], key: str, where: str, errors: Errors) -> int | None:
    """An optional reference to a row by id (1..MAX_ID)."""
    return get_int(data, key, where, errors, minimum=1, maximum=MAX_ID)


def parse_email(value: Any, where: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "is required" if not value else "must be a string")
        return None
    email = value.strip()
    if has_line_break(email) or len(email) > 320 or not _EMAIL.fullmatch(email):
        errors.add(where, "is not a valid email address")
        return None
    return email.lower()


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def parse_domain(value: Any, where: str, errors: Errors) -> str | None:
    """A domain name such as example.com (lower-cased, a leading "@" dropped)."""
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "is required" if not value else "must be a string")
        return None
    domain = value.strip().lower().lstrip("@")
    if not _DOMAIN.match(domain):
        errors.add(where, "is not a domain name such as example.com")
        return None
    return domain


MAX_COPIES = 20  # Cc or Bcc addresses on one email


def parse_address_list(value: Any, where: str, errors: Errors) -> list[str]:
    """Cc / Bcc: a list of addresses (or one string, comma or semicolon separated), each
    checked, lower-cased, duplicates dropped. Errors name the item: `cc[1]`."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,;]", value) if v.strip()]
    if not isinstance(value, list):
        errors.add(where, "must be a list of email addresses")
        return []
    if len(value) > MAX_COPIES:
        errors.add(where, f"at most {MAX_COPIES} addresses")
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        email = parse_email(item, f"{where}[{i}]", errors)
        if email is not None and email not in out:
            out.append(email)
    return out


def domain_of(email: str) -> str:
    """The domain of an address, lower-case ("" when there is no @)."""
    return email.rpartition("@")[2].lower()


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(value: Any) -> bool:
    """An IANA zone name of the installed tzdata: a folder ("America"), a path or a file that
    is not a zone is not one (ZoneInfo would open some of them, or fail with OS errors)."""
    return isinstance(value, str) and value in _zones()


def parse_timezone(value: Any, where: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not value:
        errors.add(where, "must be an IANA time zone name such as Europe/Paris")
        return None
    if not is_timezone(value):
        shown = value if len(value) <= 64 and not unstorable(value) else value[:64].encode(
            "ascii", "backslashreplace").decode()
        errors.add(where, f"unknown time zone {shown!r}; use an IANA name such as Europe/Paris")
        return None
    return value


def parse_hhmm(value: Any, where: str = "", errors: Errors | None = None) -> time | None:
    """A time of day written HH:MM (24-hour). Checking input, pass `errors`: anything else is
    reported there under `where`. Reading a stored value (checked when it was written), leave
    it out: an empty value is no time, a malformed one raises ValueError."""
    if errors is None and not value:
        return None
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
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
        parsed = date.fromisoformat(value)
    except ValueError:
        errors.add(where, "must be a date as YYYY-MM-DD")
        return None
    if not EARLIEST <= parsed <= LATEST:
        errors.add(where, f"must be between {EARLIEST} and {LATEST}")
        return None
    return parsed


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
    # Bounded like dates; checked on the naive value first, since converting year 9999 (or 1)
    # with an offset to UTC overflows.
    if not EARLIEST < parsed.replace(tzinfo=None).date() < LATEST:
        errors.add(where, f"must be between {EARLIEST} and {LATEST}")
        return None
    return parsed


def check_json_text(data: Any, errors: Errors, *, max_depth: int = 64) -> None:
    """Every key and string of a parsed JSON document is storable text, and the document is
    at most `max_depth` deep. Walked without recursion, so a hostile depth costs nothing."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > max_depth:
            errors.add(where, f"is nested more than {max_depth} levels deep")
            return
        if isinstance(value, str):
            if unstorable(value):
                errors.add(where, UNSTORABLE_MESSAGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                if unstorable(key):
                    errors.add(where, "has a key with NUL or unpaired surrogate characters")
                    continue
                stack.append((item, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
