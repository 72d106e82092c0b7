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


def field_name(key: Any, where: str, errors: Errors) -> str | None:
    """A custom field's name as merge fields use it (lower case letters, digits and _)."""
    name = str(key).strip().lower()
    if not name.replace("_", "").isalnum() or name[0].isdigit():
        errors.add(where, "field names are letters, digits and _")
        return None
    return name


def parse_field_changes(raw: Any, where: str, errors: Errors) -> dict[str, str | None]:
    """Custom fields to set, by name; a null value removes the field (a person's PATCH)."""
    if not isinstance(raw, dict):
        errors.add(where, "must be an object")
        return {}
    changes: dict[str, str | None] = {}
    for key, value in raw.items():
        name = field_name(key, f"{where}.{key}", errors)
        if name is not None:
            changes[name] = None if value is None else _field_value(value, f"{where}.{key}",
                                                                    errors)
    return changes


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
                name = field_name(key, f"{where}.fields.{key}", errors)
                if name is not None:
                    fields[name] = _field_value(value, f"{where}.fields.{key}", errors)
    if len(errors.items) > before or email is None:
        return None
    return PersonInput(email=email, timezone=tz, fields=fields, **names)


@dataclass(frozen=True)
class Invalid:
    """A row left out of a forgiving launch: where it is in the file and what is wrong."""

    line: int  # 1-based line of the CSV file (the header is line 1)
    column: str  # the file's own header name ("" for the row as a whole)
    message: str


@dataclass
class ParsedCsv:
    people: list[PersonInput]
    invalid: list[Invalid]
    columns: dict[str, str]  # the file's header -> what it was read as (a column or a field)


# Header names a file may use for our columns, once lower-cased with spaces, dashes and dots
# as "_": the rep confirms the guess in the web form, or the API names them in `columns`.
ALIASES = {
    "email": ("email", "e_mail", "email_address", "e_mail_address", "mail", "work_email"),
    "first_name": ("first_name", "firstname", "first", "given_name", "forename"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name"),
    "company": ("company", "company_name", "organisation", "organization", "account"),
    "title": ("title", "job_title", "position", "role"),
    "timezone": ("timezone", "time_zone", "tz"),
}
IGNORE = "ignore"


def field_key(header: str) -> str:
    """"Favourite Tool" -> favourite_tool (the merge field {{favourite_tool}})."""
    return re.sub(r"[\s.\-]+", "_", header.strip().lower()).strip("_")


def guess_column(header: str) -> str:
    key = field_key(header)
    return next((col for col, names in ALIASES.items() if key in names), key)


def decode_csv(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without BOM), UTF-16 (BOM, or the NUL
    bytes of ASCII text), else Windows-1252 (what Excel writes on Western Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:200]
    if head and head.count(b"\x00") * 4 >= len(head):
        return data.decode("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be",
                           errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_separator(header_line: str) -> str:
    """Comma, semicolon or tab: whichever the header row has most of (comma on a tie)."""
    return max((",", ";", "\t"), key=lambda sep: (header_line.count(sep), sep == ","))


def parse_columns(raw: Any, errors: Errors) -> dict[str, str] | None:
    """The API's `columns`: {"Email Address": "email", "Notes": "ignore", "Tool": "tool"}."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        errors.add("columns", "must be an object of header name -> column name")
        return None
    out = {}
    for header, target in raw.items():
        key = field_key(target) if target != IGNORE else IGNORE
        if not key or not key.replace("_", "").isalnum() or key[0].isdigit():
            errors.add(f"columns.{header}", f"{target!r} is not a column or field name")
        out[header] = key
    return out


def read_csv(text: str, errors: Errors, *, limit: int, columns: dict[str, str] | None = None,
             skip_invalid: bool = False) -> ParsedCsv:
    """People from a CSV with a header row. Problems name the file's line and column; with
    `skip_invalid` a bad row is left out (in `invalid`) instead of failing the launch."""
    # Read in one pass: structure, then each row through parse_person, its errors mapped from
    # our keys back to the file's headers; every bad line is reported, not only the first.
    if unstorable(text):  # a NUL or a lone surrogate: neither database stores them
        errors.add("csv", UNSTORABLE_MESSAGE)
        return ParsedCsv([], [], {})
    try:
        return _read_rows(text, errors, limit=limit, columns=columns, skip_invalid=skip_invalid)
    except csv.Error as exc:  # a cell over csv.field_size_limit() (131,072 characters)
        errors.add("csv", f"is not a CSV this service reads: {exc}")
        return ParsedCsv([], [], {})


def _read_rows(text: str, errors: Errors, *, limit: int, columns: dict[str, str] | None,
               skip_invalid: bool) -> ParsedCsv:
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=sniff_separator(first_line))
    headers = next(reader, [])
    mapping = {h: (columns or {}).get(h) or guess_column(h) for h in headers if h.strip()}
    if "email" not in mapping.values():
        errors.add("csv", "no column is read as email: name one in columns "
                   "(e.g. {\"Email Address\": \"email\"})")
        return ParsedCsv([], [], mapping)
    header_of = {target: h for h, target in mapping.items()}
    parsed = ParsedCsv([], [], mapping)
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(headers):
            parsed.invalid.append(Invalid(start, "", "has more cells than the header"))
            continue
        person: dict[str, Any] = {"fields": {}}
        for h, value in zip(headers, cells, strict=False):
            target = mapping.get(h, IGNORE)
            if target in PERSON_COLUMNS:
                person[target] = value.strip()
            elif target != IGNORE and value.strip():
                person["fields"][target] = value.strip()
        row_errors = Errors()
        got = parse_person(person, "row", row_errors)
        for item in row_errors.items:
            key = item.field.removeprefix("row.").removeprefix("fields.")
            parsed.invalid.append(Invalid(start, header_of.get(key, key), item.message))
        if got is not None:
            parsed.people.append(got)
        if len(parsed.people) > limit:
            errors.add("csv", f"at most {limit} people in one launch")
            return parsed
    if not parsed.people and not parsed.invalid:
        errors.add("csv", "has no rows after the header")
    if parsed.invalid and not skip_invalid:
        for bad in parsed.invalid[:100]:
            errors.add(f"csv line {bad.line}" + (f", column {bad.column}" if bad.column else ""),
                       bad.message)
    return parsed


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
    """All-or-nothing reading of a CSV (read_csv without skip_invalid)."""
    return read_csv(text, errors, limit=limit).people
