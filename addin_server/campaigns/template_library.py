"""Use cases of the templates library: which live steps use a template, delete, duplicate.
They take a Session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from addin_server.accounts import visible_templates
from addin_server.db import LIKE_ESCAPE, contains_pattern
from addin_server.enums import LIVE_ENROLLMENT
from addin_server.errors import Conflict
from addin_server.models import Campaign, Enrollment, Rep, Step, Template


def library_query(rep: Rep, q: str = "", shared: bool | None = None) -> Select[Template]:
    """The templates the rep may use, by name; `q` finds part of the name or subject
    (case-insensitive), `shared` narrows to shared (True) or private (False) ones."""
    query = select(Template).where(visible_templates(rep)).options(
        selectinload(Template.owner))
    if q:
        pattern = contains_pattern(q)
        query = query.where(func.lower(Template.name).like(pattern, escape=LIKE_ESCAPE)
                            | func.lower(Template.subject).like(pattern, escape=LIKE_ESCAPE))
    if shared is not None:
        query = query.where(Template.shared.is_(shared))
    return query.order_by(Template.name, Template.id)


@dataclass(frozen=True)
class Use:
    campaign_id: int
    campaign: str
    position: int  # 0-based

    def __str__(self) -> str:
        return f"campaign {self.campaign!r} step {self.position + 1}"


def live_uses(session: Session, template_id: int) -> list[Use]:
    """Steps using the template that someone in their campaign has still to reach (or is on):
    their emails and tasks are rendered from it when they come."""
    still_to_come = exists().where(Enrollment.campaign_id == Step.campaign_id,
                                   Enrollment.status.in_(LIVE_ENROLLMENT),
                                   Enrollment.current_position <= Step.position)
    rows = session.execute(
        select(Campaign.id, Campaign.name, Step.position)
        .join(Campaign, Campaign.id == Step.campaign_id)
        .where(Step.template_id == template_id, still_to_come)
        .order_by(Campaign.name, Step.position))
    return [Use(cid, name, position) for cid, name, position in rows]


def delete_template(session: Session, template: Template) -> int:
    """Delete it, refused (Conflict naming them) while a live step uses it. Other steps that
    used it (nobody left to reach them) keep its text as their own, so that a campaign read
    or launched later says the same. Returns how many steps were so detached."""
    uses = live_uses(session, template.id)
    if uses:
        raise Conflict("in use by " + "; ".join(str(u) for u in uses[:20])
                       + (f" and {len(uses) - 20} more" if len(uses) > 20 else "")
                       + ": choose another template for those steps, or stop their people")
    steps = list(session.scalars(select(Step).where(Step.template_id == template.id)))
    for step in steps:
        step.subject = step.subject or template.subject
        step.body_html = step.body_html or template.body_html
        step.template_id = None
    session.flush()
    session.delete(template)
    session.flush()
    return len(steps)


def duplicate_template(session: Session, template: Template, rep: Rep, now: datetime
                       ) -> Template:
    """A private copy for the rep ("Copy of ..."), whoever owned the original."""
    name = f"Copy of {template.name}"[:200]
    copy = Template(org_id=template.org_id, rep_id=rep.id, name=name, subject=template.subject,
                    body_html=template.body_html, shared=False, created_at=now, updated_at=now)
    session.add(copy)
    session.flush()
    return copy
