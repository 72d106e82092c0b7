"""A held send (an automatic email a merge field had no value for) and the rep's three ways out:
fill the person's fields and release it, release it with the default text (each missing field
blank), or skip the step (the person moves on).

Releasing puts the row back to `scheduled`, due now, through one conditional UPDATE from
`held`: the pipeline then renders it and sends it like any other, once (a second release, or a
release racing a skip, finds it no longer held). Functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from addin_server.campaigns import templates
from addin_server.campaigns.rendering import EmailContent, build_email
from addin_server.db import rowcount
from addin_server.enrollments.advance import advance
from addin_server.enrollments.lifecycle import cancel_pending
from addin_server.enums import SendState
from addin_server.models import Enrollment, Person, Rep, Send
from addin_server.sending.outbox import log
from addin_server.validation import FieldError, ValidationFailed

SKIP_REASON = "step skipped by the rep (held: a merge field had no value)"
# Merge fields kept in the person's columns; the others (custom ones) in person.fields.
PERSON_COLUMNS = ("first_name", "last_name", "company", "title")
# Filled by us for every email, never by the rep.
OURS = frozenset({"email", "sender_name", "sender_email", "unsubscribe_link"})
MAX_VALUE = 200


class NotHeld(Exception):
    """The send is no longer held (released, skipped, sent or cancelled meanwhile)."""


@dataclass(frozen=True)
class HeldEmail:
    """A held send as the rep fixes it: what it lacks, and the email both ways."""

    missing: tuple[str, ...]
    marked: EmailContent  # each missing field marked (`<mark class="missing-field">`)
    blank: EmailContent  # as "send with the default text" sends it


def _parts(session: Session, send: Send) -> tuple[Enrollment, Rep]:
    enrollment = session.get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    rep = session.get(Rep, enrollment.rep_id)  # the email goes from the campaign's rep
    assert rep is not None
    return enrollment, rep


def held_email(session: Session, send: Send, *, base_url: str, secret_key: str) -> HeldEmail:
    """The email of a held send rendered now, for its person as they are now. Raises
    ValueError (a malformed template) or templates.PromptsLeft: no field fixes those."""
    if send.task_id is not None:
        # Never held by the pipeline (the rep's text is sent as written); said, not guessed.
        raise ValueError("an email task's text is the rep's: send it again from compose")
    enrollment, rep = _parts(session, send)
    step = enrollment.campaign.steps[send.position]

    def rendered(mode: templates.MissingMode) -> EmailContent:
        return build_email(session, enrollment, step, rep, base_url=base_url,
                           secret_key=secret_key, keep_prompts=False, missing_fields=mode)

    marked = rendered("mark")
    return HeldEmail(missing=marked.missing, marked=marked, blank=rendered("blank"))


def check_fields(values: Mapping[str, object]) -> dict[str, str]:
    """The field values a rep gives to release a send, by lower-cased name; ValidationFailed
    naming `fields.<name>` for a value that is not text, too long, or one we fill."""
    errors: list[FieldError] = []
    clean: dict[str, str] = {}
    for name, value in values.items():
        key = name.strip().lower()
        where = f"fields.{name}"
        if not templates.is_field_name(key):
            errors.append(FieldError(where, "is not a merge field name"))
        elif key in OURS:
            errors.append(FieldError(where, "is filled by the service, not by the rep"))
        elif not isinstance(value, str):
            errors.append(FieldError(where, "must be a string"))
        elif len(value.strip()) > MAX_VALUE:
            errors.append(FieldError(where, f"must be at most {MAX_VALUE} characters"))
        else:
            clean[key] = value.strip()
    if errors:
        raise ValidationFailed(errors)
    return clean


def field_value(person: Person, name: str) -> str:
    """A merge field's value on the person now ("" when none)."""
    custom = {str(k).lower(): v for k, v in (person.fields or {}).items()}
    value = getattr(person, name) if name in PERSON_COLUMNS else custom.get(name)
    return "" if value is None else str(value)


def set_person_fields(person: Person, values: Mapping[str, str]) -> None:
    """Write merge-field values on the person: names and company in their columns, the rest
    in `fields` (the JSON column is replaced, not changed in place, so the change is seen)."""
    custom = dict(person.fields or {})
    for key, value in values.items():
        if key in PERSON_COLUMNS:
            setattr(person, key, value)
            continue
        for old in [k for k in custom if str(k).lower() == key]:
            del custom[old]  # merge fields are case-insensitive: one value per name
        custom[key] = value
    person.fields = custom


def release(session: Session, send: Send, now: datetime, *, fields: Mapping[str, str],
            use_defaults: bool, base_url: str, secret_key: str) -> Send:
    """Release a held send: set `fields` on its person, then put it back in the outbox, due
    now. Without `use_defaults` every field the email needs must have a value by then
    (ValidationFailed naming `fields.<name>`); with it, those still empty go out blank.

    Raises NotHeld when the send is not held (409 for the API).
    """
    if send.state != SendState.HELD:
        raise NotHeld(f"it is {send.state.value}, not held")
    enrollment, _rep = _parts(session, send)
    if fields:
        set_person_fields(enrollment.person, fields)
        session.flush()
    try:
        email = held_email(session, send, base_url=base_url, secret_key=secret_key)
    except (templates.PromptsLeft, ValueError) as exc:
        raise ValidationFailed([FieldError("send", f"the step cannot be written: {exc}; "
                                           "edit the campaign's step")]) from exc
    if email.missing and not use_defaults:
        raise ValidationFailed([
            FieldError(f"fields.{name}", "needs a value for this email (or send it with the "
                       "default text: use_defaults)") for name in email.missing])
    blank = bool(email.missing)
    changed = rowcount(session.execute(
        update(Send).where(Send.id == send.id, Send.state == SendState.HELD)
        .values(state=SendState.SCHEDULED, due_at=now, reason="", lease_until=None,
                blank_missing=blank, updated_at=now)
        .execution_options(synchronize_session=False)))
    if not changed:
        session.refresh(send)
        raise NotHeld(f"it is {send.state.value}, not held")
    what = []
    if fields:
        what.append("set " + ", ".join(sorted(fields)))
    if blank:
        what.append("blank: " + ", ".join(email.missing))
    log(session, send.id, SendState.HELD.value, SendState.SCHEDULED.value, now,
        "released by the rep" + (f" ({'; '.join(what)})" if what else ""))
    session.refresh(send)
    return send


def skip(session: Session, send: Send, now: datetime) -> Send:
    """Skip the step of a held send: the send is cancelled and the person moves on to their
    next step. Raises NotHeld when it is not held."""
    if send.state != SendState.HELD or not cancel_pending(
            session, (Send.id == send.id) & (Send.state == SendState.HELD), SKIP_REASON, now):
        session.refresh(send)
        raise NotHeld(f"it is {send.state.value}, not held")
    session.refresh(send)
    enrollment, _rep = _parts(session, send)
    if enrollment.current_position == send.position:
        advance(session, enrollment, now)
    return send
