"""What the person page (`/people/<id>`) shows beyond the API's JSON of the person: who owns
them, the campaigns they can be added to (not archived), and which of our emails a simulated
answer can reach (DEV_MODE: those sent from the local development mailbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.campaigns.service import campaigns_for
from addin_server.enums import LIVE_ENROLLMENT, MailboxProvider, SendOption, StepType
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Rep, Send
from addin_server.runtime import runtime


def person_page_values(session: Session, rep: Rep, person: Person, data: dict[str, Any]
                       ) -> dict[str, Any]:
    # Not the archived ones: adding people to them is refused until they are unarchived.
    campaigns = campaigns_for(session, rep, archived=False)
    live = set(session.scalars(select(Enrollment.campaign_id).where(
        Enrollment.person_id == person.id, Enrollment.status.in_(LIVE_ENROLLMENT))))
    owner = session.get(Rep, person.owner_rep_id) if person.owner_rep_id else None
    dev_mode = runtime().settings.dev_mode
    sent_ids = [i["send_id"] for i in data["thread"] if i["send_id"]]
    local = set(session.scalars(
        select(Send.id).join(Mailbox, Mailbox.id == Send.mailbox_id)
        .where(Send.id.in_(sent_ids), Mailbox.provider == MailboxProvider.LOCAL))
    ) if dev_mode and sent_ids else set()
    name = f"{person.first_name} {person.last_name}".strip()
    return {
        "person": person, "p": data, "name": name or person.email,
        "owner": owner, "dev_mode": dev_mode, "simulable": local,
        "campaigns": [c for c in campaigns if c.id not in live],
        "needs_time": {c.id for c in campaigns if _needs_time(c)},
    }


def _needs_time(campaign: Campaign) -> bool:
    """The first email is sent at a time the rep picks at launch ("choose at launch")."""
    first = next((s for s in campaign.steps if s.type == StepType.EMAIL), None)
    return first is not None and first.send_option == SendOption.CHOOSE_AT_LAUNCH
