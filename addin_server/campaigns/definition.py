"""Reading and checking a campaign definition (the JSON of POST/PATCH /api/v1/campaigns).

The rules of product.md that depend only on the definition live here: which send options each
email step may take by its position, reply-to-previous, times, merge expressions and prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from addin_server.campaigns import templates
from addin_server.campaigns.settings import parse_extra
from addin_server.enums import SendOption, StepType
from addin_server.validation import (
    SUBJECT_MAX,
    Errors,
    get_bool,
    get_id,
    get_int,
    get_str,
    parse_address_list,
    parse_hhmm,
    parse_timezone,
)

MAX_STEPS = 50
FIRST_EMAIL_OPTIONS = (
    SendOption.CHOOSE_AT_LAUNCH,
    SendOption.FIXED_TIME,
    SendOption.MANUAL_TASK,
)
LATER_EMAIL_OPTIONS = (
    SendOption.SAME_TIME_AS_PREVIOUS,
    SendOption.FIXED_TIME,
    SendOption.MANUAL_TASK,
)


@dataclass(frozen=True)
class StepSpec:
    day: int
    type: StepType
    send_option: SendOption | None = None
    send_time: time | None = None
    reply_to_previous: bool = False
    subject: str = ""
    body_html: str = ""
    template_id: int | None = None
    instructions: str = ""
    cc: tuple[str, ...] = ()  # copied on the step's automatic emails
    bcc: tuple[str, ...] = ()
    # The saved step this one is (its id as read back), so that a change to a campaign with
    # people in it can tell a moved or removed step from an edited one; None for a new step.
    id: int | None = None

    @property
    def is_manual(self) -> bool:
        return self.type != StepType.EMAIL or self.send_option == SendOption.MANUAL_TASK


@dataclass(frozen=True)
class Settings:
    skip_weekends: bool = True
    stop_on_reply: bool = True
    mark_success_on_reply: bool = False
    remove_on_bounce: bool = True
    use_recipient_timezone: bool = False


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    timezone: str
    settings: Settings = field(default_factory=Settings)
    steps: tuple[StepSpec, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # Campaign.extra_settings


def _enum_value(
    cls: type[StepType] | type[SendOption], value: Any, where: str, errors: Errors
) -> Any:
    allowed = [m.value for m in cls]
    if value not in allowed:
        errors.add(where, "must be one of " + ", ".join(allowed))
        return None
    return cls(value)


def _check_text(text: str, where: str, errors: Errors, *, allow_prompts: bool) -> None:
    for problem in templates.check_template(text, allow_prompts=allow_prompts):
        errors.add(where, problem.message)


def parse_settings(data: Any, errors: Errors, base: Settings | None = None) -> Settings:
    base = base or Settings()
    if data is None:
        return base
    if not isinstance(data, dict):
        errors.add("settings", "must be an object")
        return base
    return Settings(
        skip_weekends=get_bool(data, "skip_weekends", "settings.skip_weekends", errors,
                               base.skip_weekends),
        stop_on_reply=get_bool(data, "stop_on_reply", "settings.stop_on_reply", errors,
                               base.stop_on_reply),
        mark_success_on_reply=get_bool(data, "mark_success_on_reply",
                                       "settings.mark_success_on_reply", errors,
                                       base.mark_success_on_reply),
        remove_on_bounce=get_bool(data, "remove_on_bounce", "settings.remove_on_bounce", errors,
                                  base.remove_on_bounce),
        use_recipient_timezone=get_bool(data, "use_recipient_timezone",
                                        "settings.use_recipient_timezone", errors,
                                        base.use_recipient_timezone),
    )


def _parse_step(raw: Any, where: str, errors: Errors) -> StepSpec | None:
    if not isinstance(raw, dict):
        errors.add(where, "must be an object")
        return None
    day = get_int(raw, "day", f"{where}.day", errors, required=True)
    if day is not None and not 1 <= day <= 365:
        errors.add(f"{where}.day", "must be between 1 and 365")
    step_type = _enum_value(StepType, raw.get("type"), f"{where}.type", errors)
    option: SendOption | None = None
    if raw.get("send_option") is not None:
        option = _enum_value(SendOption, raw.get("send_option"), f"{where}.send_option", errors)
    send_time = None
    if raw.get("send_time") is not None:
        send_time = parse_hhmm(raw.get("send_time"), f"{where}.send_time", errors)
    template_id = get_id(raw, "template_id", f"{where}.template_id", errors)
    return StepSpec(
        id=get_id(raw, "id", f"{where}.id", errors),
        day=day or 1,
        type=step_type or StepType.CUSTOM,
        send_option=option,
        send_time=send_time,
        reply_to_previous=get_bool(raw, "reply_to_previous", f"{where}.reply_to_previous",
                                   errors, False),
        subject=get_str(raw, "subject", f"{where}.subject", errors, max_len=SUBJECT_MAX,
                        header=True),
        body_html=get_str(raw, "body_html", f"{where}.body_html", errors, max_len=200_000),
        template_id=template_id,
        instructions=get_str(raw, "instructions", f"{where}.instructions", errors, max_len=5000),
        cc=tuple(parse_address_list(raw.get("cc"), f"{where}.cc", errors)),
        bcc=tuple(parse_address_list(raw.get("bcc"), f"{where}.bcc", errors)),
    )


def _check_step_rules(steps: list[StepSpec], errors: Errors) -> list[StepSpec]:
    """Position rules; returns the steps with what does not apply cleared."""
    # One pass over the steps, rule after rule, so every error is reported at once with its
    # step's path; split up, each rule would walk the list again and lose the previous step.
    checked: list[StepSpec] = []
    seen_email = False
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if i == 0 and step.day != 1:
            errors.add(f"{where}.day", "the first step must be on day 1")
        if i > 0 and step.day < steps[i - 1].day:
            errors.add(f"{where}.day", "days must not decrease from one step to the next")
        if step.type != StepType.EMAIL:
            if step.send_option is not None:
                errors.add(f"{where}.send_option", "only email steps have a send option")
            if step.reply_to_previous:
                errors.add(f"{where}.reply_to_previous", "only email steps can reply")
            if step.cc or step.bcc:
                errors.add(f"{where}.cc" if step.cc else f"{where}.bcc",
                           "only email steps have copies")
            checked.append(StepSpec(day=step.day, type=step.type, instructions=step.instructions,
                                    id=step.id))
            continue
        allowed = LATER_EMAIL_OPTIONS if seen_email else FIRST_EMAIL_OPTIONS
        first_email = not seen_email
        seen_email = True
        option = step.send_option
        if option is None:
            errors.add(f"{where}.send_option", "is required for an email step")
        elif option not in allowed:
            which = "a later" if not first_email else "the first"
            errors.add(
                f"{where}.send_option",
                f"{option.value} is not allowed on {which} email step; use one of "
                + ", ".join(o.value for o in allowed),
            )
        elif option == SendOption.CHOOSE_AT_LAUNCH and step.day != 1:
            errors.add(f"{where}.send_option", "choose_at_launch is only for an email on day 1")
        if option == SendOption.FIXED_TIME and step.send_time is None:
            errors.add(f"{where}.send_time", "is required when send_option is fixed_time")
        reply = step.reply_to_previous
        if reply and (i == 0 or steps[i - 1].type != StepType.EMAIL):
            errors.add(f"{where}.reply_to_previous", "needs an email step right before this one")
        if step.template_id is None and not step.body_html.strip():
            errors.add(f"{where}.body_html", "is required (or give a template_id)")
        if step.template_id is not None and step.body_html.strip():
            errors.add(f"{where}.template_id", "give either template_id or body_html, not both")
        if step.template_id is None and not reply and not step.subject.strip():
            errors.add(f"{where}.subject", "is required unless the email replies to the previous")
        manual = option == SendOption.MANUAL_TASK
        if not reply:
            _check_text(step.subject, f"{where}.subject", errors, allow_prompts=manual)
        _check_text(step.body_html, f"{where}.body_html", errors, allow_prompts=manual)
        checked.append(
            StepSpec(
                day=step.day,
                type=step.type,
                send_option=option,
                send_time=step.send_time if option == SendOption.FIXED_TIME else None,
                reply_to_previous=reply,
                # A reply goes out as "Re: <previous subject>": a subject given is ignored.
                subject="" if reply else step.subject,
                body_html=templates.sanitize_html(step.body_html) if step.body_html else "",
                template_id=step.template_id,
                instructions=step.instructions,
                cc=step.cc,
                bcc=step.bcc,
                id=step.id,
            )
        )
    return checked


# The time of day an automatic email step is set for, as far as the campaign alone says it:
# a time, or LAUNCH_TIME for the time picked at launch; None when it depends on the rep (a
# manual step before it) or is "right away".
LAUNCH_TIME = "the time chosen at launch"


def _set_time(steps: list[StepSpec], i: int) -> time | str | None:
    step = steps[i]
    if step.send_option == SendOption.FIXED_TIME:
        return step.send_time
    if step.send_option == SendOption.CHOOSE_AT_LAUNCH:
        return LAUNCH_TIME
    if step.send_option != SendOption.SAME_TIME_AS_PREVIOUS:
        return None
    # campaigns/timing.py's rule: the previous email's time; if that one is on the same day,
    # the time of the last email on an earlier day.
    emails = [j for j in range(i) if steps[j].type == StepType.EMAIL]
    if not emails:
        return None
    if steps[emails[-1]].day < step.day:
        return _set_time(steps, emails[-1])
    earlier = [j for j in emails if steps[j].day < step.day]
    return _set_time(steps, earlier[-1]) if earlier else None


def _check_same_minute(steps: list[StepSpec], errors: Errors) -> None:
    """Two automatic emails of one campaign set for the same day and minute would reach the
    person together (one of them a reply to the other): refused on the later step."""
    taken: dict[tuple[int, time | str], int] = {}
    for i, step in enumerate(steps):
        if step.type != StepType.EMAIL:
            continue
        at = _set_time(steps, i)
        if at is None:
            continue
        other = taken.setdefault((step.day, at), i)
        if other == i:
            continue
        shown = at if isinstance(at, str) else f"{at:%H:%M}"
        field_name = "send_time" if step.send_option == SendOption.FIXED_TIME else "send_option"
        errors.add(f"steps[{i}].{field_name}",
                   f"goes out on day {step.day} at {shown}, the same minute as step {other + 1}: "
                   "give one of the two emails another time (or another day)")


def parse_steps(data: Any, errors: Errors) -> tuple[StepSpec, ...]:
    if not isinstance(data, list) or not data:
        errors.add("steps", "must be a non-empty list")
        return ()
    if len(data) > MAX_STEPS:
        errors.add("steps", f"at most {MAX_STEPS} steps")
        return ()
    parsed = [_parse_step(raw, f"steps[{i}]", errors) for i, raw in enumerate(data)]
    if errors:
        return ()
    checked = _check_step_rules([s for s in parsed if s is not None], errors)
    _check_same_minute(checked, errors)
    return tuple(checked)


def parse_campaign(data: Any, *, default_timezone: str) -> CampaignSpec:
    """A whole campaign from JSON; raises ValidationFailed with every error found."""
    errors = Errors()
    if not isinstance(data, dict):
        errors.add("", "the body must be a JSON object")
        errors.raise_if_any()
        raise AssertionError  # unreachable: raise_if_any raised
    name = get_str(data, "name", "name", errors, required=True, max_len=200).strip()
    if "name" in data and isinstance(data.get("name"), str) and not name:
        errors.add("name", "must not be empty")
    tz = default_timezone
    if data.get("timezone") is not None:
        tz = parse_timezone(data["timezone"], "timezone", errors) or tz
    settings = parse_settings(data.get("settings"), errors)
    extra = parse_extra(data.get("settings"), errors)
    steps = parse_steps(data.get("steps"), errors)
    errors.raise_if_any()
    return CampaignSpec(name=name, timezone=tz, settings=settings, steps=steps, extra=extra)
