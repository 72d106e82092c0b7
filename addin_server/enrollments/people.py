"""The people of a launch as they come in: a JSON list or a CSV file, checked field by field.

Every problem is reported with where it is (`people[3].email`, `csv line 4`), and nothing is
written: the launch itself is in launch.py.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from addin_server.validation import (
    UNSTORABLE_MESSAGE,
    Errors,
    get_str,
    has_line_break,
    parse_email,
    parse_timezone,
    unstorable,
)

PERSON_COLUMNS = ("email", "first_name", "last_name", "company", "title", "timezone")


@dataclass(frozen=True)
class PersonInput:
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    title: str = ""
    timezone: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _field_value(raw: Any, where: str, errors: Errors) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        errors.add(where, "must be a string or a number")
        return ""
    value = str(raw)
    if has_line_break(value):
        errors.add(where, "must not contain line breaks")
        return ""
    if len(value) > 1000:
        errors.add(where, "must be at most 1000 characters")
        return ""
    return value


def parse_person(raw: Any, where: str, errors: Errors) -> PersonInput | None:
    if not isinstance(raw, dict):
        errors.add(where, "must be an object")
        return None
    before = len(errors.items)
    email = parse_email(raw.get("email"), f"{where}.email", errors)
    names = {
        key: get_str(raw, key, f"{where}.{key}", errors, max_len=200, header=True).strip()
        for key in ("first_name", "last_name", "company", "title")
    }
    tz = None
    if raw.get("timezone") not in (None, ""):
        tz = parse_timezone(raw.get("timezone"), f"{where}.timezone", errors)
    fields: dict[str, str] = {}
    raw_fields = raw.get("fields")
    if raw_fields is not None:
        if not isinstance(raw_fields, dict):
            errors.add(f"{where}.fields", "must be an object")
        else:
            for key, value in raw_fields.items():
                name = str(key).strip().lower()
                if not name.replace("_", "").isalnum() or name[0].isdigit():
                    errors.add(f"{where}.fields.{key}", "field names are letters, digits and _")
                    continue
                fields[name] = _field_value(value, f"{where}.fields.{key}", errors)
    if len(errors.items) > before or email is None:
        return None
    return PersonInput(email=email, timezone=tz, fields=fields, **names)


def parse_people(data: Any, errors: Errors, *, limit: int) -> list[PersonInput]:
    if not isinstance(data, list) or not data:
        errors.add("people", "must be a non-empty list")
        return []
    if len(data) > limit:
        errors.add("people", f"at most {limit} people in one launch")
        return []
    people = []
    for i, raw in enumerate(data):
        person = parse_person(raw, f"people[{i}]", errors)
        if person is not None:
            people.append(person)
        if len(errors.items) >= 100:  # enough to fix a file; do not build a huge response
            break
    return people


def parse_csv(text: str, errors: Errors, *, limit: int) -> list[PersonInput]:
    """A CSV with a header row; `email` is required; unknown columns become custom fields."""
    if unstorable(text):
        errors.add("csv", UNSTORABLE_MESSAGE)
        return []
    try:
        rows = _csv_rows(text, errors)
    except csv.Error as exc:  # a cell over csv.field_size_limit() (131,072), a stray NUL
        errors.add("csv", f"is not a CSV this service reads: {exc}")
        return []
    if errors:
        return []
    if not rows:
        errors.add("csv", "has no rows after the header")
        return []
    return parse_people(rows, errors, limit=limit)


def _csv_rows(text: str, errors: Errors) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    # "Favourite Tool" becomes the merge field {{favourite_tool}}.
    header = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in (reader.fieldnames or [])]
    if "email" not in header:
        errors.add("csv", "the header row must have an email column")
        return []
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(reader):
        if None in row:
            errors.add(f"csv.row[{i + 2}]", "has more cells than the header")
            continue
        person: dict[str, Any] = {"fields": {}}
        for key, value in row.items():
            value = (value or "").strip()
            if key in PERSON_COLUMNS:
                person[key] = value
            elif key and value:
                person["fields"][key] = value
        rows.append(person)
    return rows
