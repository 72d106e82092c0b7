"""Use cases on campaigns and templates: create, change, read. They never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from addin_server.accounts import may_see_template
from addin_server.campaigns import templates
from addin_server.campaigns.definition import (
    CampaignSpec,
    StepSpec,
    parse_settings,
    parse_steps,
)
from addin_server.campaigns.definition import Settings as CampaignSettings
from addin_server.campaigns.settings import parse_extra
from addin_server.enums import LIVE_ENROLLMENT, SendOption, StepType
from addin_server.errors import Conflict
from addin_server.models import Campaign, Enrollment, Rep, Step, Template
from addin_server.validation import SUBJECT_MAX, Errors, get_str, parse_hhmm, parse_timezone


def _check_template_ids(session: Session, rep: Rep, steps: tuple[StepSpec, ...]) -> None:
    """Each step's template must be one the campaign's rep may see (their own; an admin's
    campaign, any of the organisation's): another rep's is "no such template"."""
    errors = Errors()
    for i, step in enumerate(steps):
        if step.template_id is None:
            continue
        template = session.get(Template, step.template_id)
        if not may_see_template(rep, template):
            errors.add(f"steps[{i}].template_id", "no such template")
            continue
        assert template is not None
        manual = step.is_manual
        for part, text in (("subject", template.subject), ("body_html", template.body_html)):
            for problem in templates.check_template(text, allow_prompts=manual):
                errors.add(f"steps[{i}].template_id", f"template {part}: {problem.message}")
        if not step.reply_to_previous and not template.subject.strip():
            errors.add(f"steps[{i}].template_id", "the template has no subject")
    errors.raise_if_any()


def _step_rows(steps: tuple[StepSpec, ...]) -> list[Step]:
    return [
        Step(
            position=i,
            day=s.day,
            type=s.type,
            send_option=s.send_option,
            send_time=s.send_time.strftime("%H:%M") if s.send_time else None,
            reply_to_previous=s.reply_to_previous,
            subject=s.subject,
            body_html=s.body_html,
            template_id=s.template_id,
            instructions=s.instructions,
            cc=list(s.cc),
            bcc=list(s.bcc),
        )
        for i, s in enumerate(steps)
    ]


def _check_live_positions(
    session: Session, campaign: Campaign, steps: tuple[StepSpec, ...]
) -> None:
    """People part-way through keep their place: the steps they are on, and those before,
    must keep their type (a pending send or task belongs to that step), and the step they are
    on its kind (an automatic email stays automatic, a task a task). Steps may be removed from
    the end, even those people are on: those people then finish (enrollments/live_edit.py)."""
    current: set[int] = set(session.scalars(select(Enrollment.current_position).distinct().where(
        Enrollment.campaign_id == campaign.id, Enrollment.status.in_(LIVE_ENROLLMENT),
        Enrollment.current_position.is_not(None))))
    if not current:
        return
    furthest = max(current)
    errors = Errors()
    # Steps are kept by position. With the ids the API reads back (the builder sends them), a
    # step moved, inserted or removed before where people are is told from an edit: refused,
    # since their progress would silently land on another step.
    by_id = any(step.id is not None for step in steps)
    for old in campaign.steps[: furthest + 1]:
        if old.position >= len(steps):
            continue
        new = steps[old.position]
        if by_id and new.id != old.id:
            errors.add(f"steps[{old.position}]", f"people are on step {furthest + 1}: steps "
                       f"up to it cannot be moved, added or removed (only after it, or "
                       f"steps at the end), or stop those people first")
            break
        if new.type != old.type:
            errors.add(f"steps[{old.position}].type", "people are on or past this step: its "
                       "type cannot change")
        elif old.position in current and new.is_manual != _is_manual(old):
            errors.add(f"steps[{old.position}].send_option", "people are on this step: it "
                       "cannot change between an automatic email and a task")
    errors.raise_if_any()


def _is_manual(step: Step) -> bool:
    return step.type != StepType.EMAIL or step.send_option == SendOption.MANUAL_TASK


def create_campaign(session: Session, rep: Rep, spec: CampaignSpec, now: datetime) -> Campaign:
    _check_template_ids(session, rep, spec.steps)
    s = spec.settings
    campaign = Campaign(
        org_id=rep.org_id, rep_id=rep.id, name=spec.name, timezone=spec.timezone,
        skip_weekends=s.skip_weekends, stop_on_reply=s.stop_on_reply,
        mark_success_on_reply=s.mark_success_on_reply, remove_on_bounce=s.remove_on_bounce,
        use_recipient_timezone=s.use_recipient_timezone, extra_settings=dict(spec.extra),
        created_at=now, updated_at=now,
    )
    campaign.steps = _step_rows(spec.steps)
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(session: Session, campaign: Campaign, data: Any, now: datetime) -> None:
    """PATCH: change what is given. Steps are replaced as a whole list; people already in the
    campaign keep their progress by position (their pending email is rendered from the new
    step when it goes)."""
    # Long by nature: PATCH checks each field it may change, all before writing anything.
    errors = Errors()
    if not isinstance(data, dict):
        errors.add("", "the body must be a JSON object")
        errors.raise_if_any()
    if "name" in data:
        name = get_str(data, "name", "name", errors, required=True, max_len=200).strip()
        if not name and "name" not in {e.field for e in errors.items}:
            errors.add("name", "must not be empty")
    if "timezone" in data:
        parse_timezone(data["timezone"], "timezone", errors)
    settings = parse_settings(data.get("settings"), errors, base=CampaignSettings(
        skip_weekends=campaign.skip_weekends, stop_on_reply=campaign.stop_on_reply,
        mark_success_on_reply=campaign.mark_success_on_reply,
        remove_on_bounce=campaign.remove_on_bounce,
        use_recipient_timezone=campaign.use_recipient_timezone,
    ))
    extra = parse_extra(data.get("settings"), errors, base=campaign.extra_settings)
    steps = parse_steps(data["steps"], errors) if "steps" in data else None
    errors.raise_if_any()
    if steps is not None:
        owner = session.get(Rep, campaign.rep_id)
        assert owner is not None  # a campaign's rep is never deleted
        _check_template_ids(session, owner, steps)
        _check_live_positions(session, campaign, steps)
    if "name" in data:
        campaign.name = data["name"].strip()
    if "timezone" in data:
        campaign.timezone = data["timezone"]
    campaign.skip_weekends = settings.skip_weekends
    campaign.stop_on_reply = settings.stop_on_reply
    campaign.mark_success_on_reply = settings.mark_success_on_reply
    campaign.remove_on_bounce = settings.remove_on_bounce
    campaign.use_recipient_timezone = settings.use_recipient_timezone
    campaign.extra_settings = extra
    if steps is not None:
        new_rows = _step_rows(steps)
        old = {s.position: s for s in campaign.steps}
        for row in new_rows:
            if row.position in old:  # update in place: the (campaign, position) key stays
                target = old.pop(row.position)
                for attr in ("day", "type", "send_option", "send_time", "reply_to_previous",
                             "subject", "body_html", "template_id", "instructions", "cc", "bcc"):
                    setattr(target, attr, getattr(row, attr))
            else:
                campaign.steps.append(row)
        for leftover in old.values():
            campaign.steps.remove(leftover)
    campaign.updated_at = now
    session.flush()


def _campaigns_of(rep: Rep, archived: bool | None = None) -> Select[Campaign]:
    """The rep's campaigns (an admin's: the organisation's); `archived` True or False keeps
    only those archived or not, None all."""
    query = select(Campaign).where(Campaign.org_id == rep.org_id)
    if not rep.is_admin:
        query = query.where(Campaign.rep_id == rep.id)
    if archived is not None:
        query = query.where(Campaign.archived.is_(archived))
    return query


def campaigns_for(session: Session, rep: Rep, *, archived: bool | None = None
                  ) -> list[Campaign]:
    return list(session.scalars(_campaigns_of(rep, archived).order_by(Campaign.id)))


def campaigns_page(session: Session, rep: Rep, limit: int, offset: int, *,
                   archived: bool | None = None) -> tuple[list[Campaign], int]:
    """One page of the campaigns the rep sees, by id, and how many there are."""
    query = _campaigns_of(rep, archived)
    total = int(session.scalar(select(func.count()).select_from(
        query.with_only_columns(Campaign.id).subquery())) or 0)
    return list(session.scalars(query.order_by(Campaign.id).limit(limit).offset(offset))), total


def count_archived(session: Session, rep: Rep) -> int:
    query = select(func.count()).select_from(Campaign).where(
        Campaign.org_id == rep.org_id, Campaign.archived.is_(True))
    if not rep.is_admin:
        query = query.where(Campaign.rep_id == rep.id)
    return int(session.scalar(query) or 0)


COPY_SUFFIX = " (copy)"


def clone_campaign(session: Session, rep: Rep, campaign: Campaign, now: datetime) -> Campaign:
    """A new campaign with nobody in it yet, owned by `rep`, with the same steps and settings,
    named "<name> (copy)". Its templates must be ones `rep` may use (an admin cloning a rep's
    campaign that uses that rep's own template is refused, naming the step)."""
    steps = tuple(StepSpec(
        day=s.day, type=s.type, send_option=s.send_option,
        send_time=parse_hhmm(s.send_time), reply_to_previous=s.reply_to_previous,
        subject=s.subject, body_html=s.body_html, template_id=s.template_id,
        instructions=s.instructions) for s in campaign.steps)
    name = campaign.name[: 200 - len(COPY_SUFFIX)] + COPY_SUFFIX
    spec = CampaignSpec(
        name=name, timezone=campaign.timezone, steps=steps,
        settings=CampaignSettings(
            skip_weekends=campaign.skip_weekends, stop_on_reply=campaign.stop_on_reply,
            mark_success_on_reply=campaign.mark_success_on_reply,
            remove_on_bounce=campaign.remove_on_bounce,
            use_recipient_timezone=campaign.use_recipient_timezone),
        extra=dict(campaign.extra_settings or {}))
    return create_campaign(session, rep, spec, now)


def set_archived(session: Session, campaign: Campaign, archived: bool, live_people: int,
                 now: datetime) -> None:
    """Archive (hide from the default lists and the add-ins' pickers) or bring back. Refused
    while people are still in it: stop them first, so that nothing keeps sending from a
    campaign nobody sees."""
    if archived and live_people:
        raise Conflict(f"{live_people} people are still in this campaign: stop them first")
    campaign.archived = archived
    campaign.updated_at = now
    session.flush()


def parse_template(data: Any) -> tuple[str, str, str]:
    """A saved template's name, subject and body; prompts are allowed (a template may serve a
    manual step); a step that is automatic refuses a template with prompts when saved."""
    errors = Errors()
    if not isinstance(data, dict):
        errors.add("", "the body must be a JSON object")
        errors.raise_if_any()
    name = get_str(data, "name", "name", errors, required=True, max_len=200).strip()
    subject = get_str(data, "subject", "subject", errors, max_len=SUBJECT_MAX, header=True)
    body = get_str(data, "body_html", "body_html", errors, required=True, max_len=200_000)
    for where, text in (("subject", subject), ("body_html", body)):
        for problem in templates.check_template(text, allow_prompts=True):
            errors.add(where, problem.message)
    errors.raise_if_any()
    return name, subject, templates.sanitize_html(body)
