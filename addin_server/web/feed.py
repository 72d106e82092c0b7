"""The Live Feed as people read it: each event as a sentence with the person and campaign named.

The API's feed (GET /api/v1/feed) carries ids; the pages poll `/feed/poll?after=` here, which
renders the same events with names, so that the full page and the compact panel show one text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import dates, feed
from addin_server.models import Campaign, Event, Person, Rep

# What the compact panel shows: what a rep acts on (the full page shows everything).
IMPORTANT = (
    feed.EMAIL_SENT, feed.REPLIED, feed.BOUNCED, feed.TASK_CREATED, feed.TASK_DUE,
    feed.EMAIL_FAILED,
    feed.EMAIL_HELD, feed.MAILBOX_DISCONNECTED, feed.MAILBOX_PAUSED, feed.MAILBOX_RECONNECTED,
    feed.CAMPAIGN_LAUNCHED, feed.UNSUBSCRIBED, feed.BREAKER_TRIPPED, feed.BREAKER_RELEASED,
    feed.DOMAIN_FLAGGED, feed.BULK_WARNING, feed.BULK_LINE, feed.REP_AWAY, feed.REP_BACK,
)
# Filter chips on the feed page: chip -> event types.
KINDS: dict[str, tuple[str, ...]] = {
    "sent": (feed.EMAIL_SENT,),
    "replied": (feed.REPLIED,),
    "bounced": (feed.BOUNCED, feed.EMAIL_FAILED, feed.EMAIL_HELD),
    "tasks": (feed.TASK_CREATED, feed.TASK_DUE, feed.TASK_COMPLETED, feed.TASK_SKIPPED),
    "mailbox": (feed.MAILBOX_DISCONNECTED, feed.MAILBOX_PAUSED, feed.MAILBOX_RECONNECTED,
                feed.BREAKER_TRIPPED, feed.BREAKER_RELEASED, feed.DOMAIN_FLAGGED,
                feed.BULK_WARNING, feed.BULK_LINE, feed.REP_AWAY, feed.REP_BACK),
}
TONE = {
    feed.EMAIL_SENT: "ok", feed.REPLIED: "good", feed.BOUNCED: "bad", feed.EMAIL_FAILED: "bad",
    feed.MAILBOX_DISCONNECTED: "bad", feed.EMAIL_HELD: "warn", feed.MAILBOX_PAUSED: "warn",
    feed.TASK_CREATED: "task", feed.TASK_DUE: "task", feed.UNSUBSCRIBED: "warn",
    feed.BREAKER_TRIPPED: "bad", feed.DOMAIN_FLAGGED: "warn", feed.BULK_WARNING: "warn",
    feed.BULK_LINE: "bad", feed.REP_AWAY: "warn",
}


@dataclass(frozen=True)
class FeedItem:
    id: int
    type: str
    kind: str
    tone: str
    text: str
    detail: str
    at: datetime
    at_local: str
    link: str | None


_TASK_NAMES = {"email": "Email task", "call": "Call", "linkedin": "LinkedIn task",
               "custom": "Task"}


def _kind(event_type: str) -> str:
    return next((k for k, types in KINDS.items() if event_type in types), "other")


def _who(person: Person | None) -> str:
    if person is None:
        return "someone"
    return f"{person.first_name} {person.last_name}".strip() or person.email


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n:,} people"


def _day(iso_date: Any) -> str:
    try:
        return dates.day(date.fromisoformat(str(iso_date)), year=False)
    except ValueError:
        return str(iso_date)


def _breaker(data: dict[str, Any], campaign: Campaign | None, what: str) -> str:
    if data.get("scope") == "campaign":
        return f"Campaign {campaign.name if campaign else ''} {what}"
    return f"Mailbox {data.get('address', '')} {what}"


def describe(event: Event, person: Person | None, campaign: Campaign | None) -> tuple[str, str]:
    """A sentence and a detail line for one event."""
    data: dict[str, Any] = event.data or {}
    who = _who(person)
    step = f"step {int(data['position']) + 1}" if "position" in data else ""
    where = " · ".join(x for x in (campaign.name if campaign else "", step) if x)
    texts = {
        feed.EMAIL_SENT: f"Email sent to {who}",
        feed.REPLIED: f"{who} replied",
        feed.BOUNCED: f"Email to {who} bounced",
        feed.EMAIL_FAILED: f"Email to {who} failed",
        feed.EMAIL_HELD: f"Email to {who} is held",
        feed.EMAIL_SCHEDULED: f"Email to {who} scheduled",
        feed.TASK_CREATED: f"{_TASK_NAMES.get(str(data.get('task_type')), 'Task')} for {who}, "
                           f"due {_day(data.get('due_date', ''))}",
        feed.TASK_DUE: f"{_TASK_NAMES.get(str(data.get('task_type')), 'Task')} for {who} "
                       "is due today",
        feed.TASK_COMPLETED: f"{_TASK_NAMES.get(str(data.get('task_type')), 'Task')} for {who} "
                             "done",
        feed.TASK_SKIPPED: f"{_TASK_NAMES.get(str(data.get('task_type')), 'Task')} for {who} "
                           "skipped",
        feed.ENROLLMENT_PAUSED: f"{who} paused",
        feed.ENROLLMENT_RESUMED: f"{who} resumed",
        feed.ENROLLMENT_STOPPED: f"{who} stopped",
        feed.ENROLLMENT_FINISHED: f"{who} finished the campaign",
        feed.UNSUBSCRIBED: f"{who} unsubscribed",
        feed.MAILBOX_DISCONNECTED: f"Mailbox {data.get('address', '')} disconnected: "
                                   "reconnect it to resume sending",
        feed.MAILBOX_RECONNECTED: f"Mailbox {data.get('address', '')} reconnected",
        feed.MAILBOX_PAUSED: f"Mailbox {data.get('address', '')} paused by the provider",
        feed.BREAKER_TRIPPED: _breaker(data, campaign, "paused by its bounce breaker"),
        feed.BREAKER_RELEASED: _breaker(data, campaign, f"released by {data.get('by', '')}"),
        feed.DOMAIN_FLAGGED: f"Domain {data.get('domain', '')} refused for its sender "
                             "authentication",
        feed.BULK_WARNING: f"Domain {data.get('domain', '')} is nearing the bulk-sender line",
        feed.BULK_LINE: f"Domain {data.get('domain', '')} reached the bulk-sender line",
        feed.REP_AWAY: f"Vacation responder of {data.get('address', '')} is on",
        feed.REP_BACK: f"Vacation responder of {data.get('address', '')} is off: "
                       "automatic emails resume",
        feed.CAMPAIGN_LAUNCHED: f"Campaign {data.get('campaign', '')} launched on "
                                + _people(int(data.get("enrolled", 0)))
                                + (f" ({data['skipped']} skipped)" if data.get("skipped") else ""),
    }
    text = texts.get(event.type, event.type.replace("_", " ").capitalize())
    extra = str(data.get("reason") or data.get("subject") or "")
    address = person.email if person is not None and who != person.email else ""
    detail = " · ".join(x for x in (address, where, extra) if x)
    return text, detail


def _when(local: datetime, today: date) -> str:
    """"09:30" today, "23 Nov 09:30" before."""
    if local.date() == today:
        return f"{local:%H:%M}"
    return f"{dates.day(local.date(), year=local.year != today.year)} at {local:%H:%M}"


def _link(event: Event) -> str | None:
    if event.type in (feed.TASK_CREATED, feed.TASK_DUE) and event.task_id:
        return f"/tasks/{event.task_id}"
    if event.type.startswith(("mailbox_", "breaker_", "domain_", "bulk_", "rep_")):
        return "/mailboxes"
    if event.campaign_id and event.type == feed.CAMPAIGN_LAUNCHED:
        return f"/campaigns/{event.campaign_id}"
    if event.person_id:  # a reply, bounce, unsubscribe...: the person's page says it all
        return f"/people/{event.person_id}"
    return None


def items(session: Session, events: list[Event], tz: str, now: datetime) -> list[FeedItem]:
    people = {p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_({e.person_id for e in events if e.person_id})))}
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(
        Campaign.id.in_({e.campaign_id for e in events if e.campaign_id})))}
    zone = ZoneInfo(tz or "UTC")
    today = now.astimezone(zone).date()
    out = []
    for e in events:
        text, detail = describe(e, people.get(e.person_id or 0),
                                campaigns.get(e.campaign_id or 0))
        out.append(FeedItem(
            id=e.id, type=e.type, kind=_kind(e.type), tone=TONE.get(e.type, "plain"),
            text=text, detail=detail, at=e.at,
            at_local=_when(e.at.astimezone(zone), today), link=_link(e),
        ))
    return out


def _query(rep: Rep, types: tuple[str, ...] | None):  # type: ignore[no-untyped-def]
    query = select(Event).where(Event.org_id == rep.org_id)
    if not rep.is_admin:
        query = query.where(Event.rep_id == rep.id)
    if types is not None:
        query = query.where(Event.type.in_(types))
    return query


def latest(session: Session, rep: Rep, *, limit: int, types: tuple[str, ...] | None
           ) -> list[Event]:
    """The newest events, newest first."""
    query = _query(rep, types).order_by(Event.id.desc()).limit(limit)
    return list(session.scalars(query))


def after(session: Session, rep: Rep, after_id: int, *, types: tuple[str, ...] | None,
          limit: int = 200) -> tuple[list[Event], int, bool]:
    """Events after an id, oldest first, the id to poll after next, and whether more are
    waiting. Filtering by type happens after the cursor moves, so that a burst of hidden
    events is stepped over."""
    scanned = list(session.scalars(
        _query(rep, None).where(Event.id > after_id).order_by(Event.id).limit(limit)))
    cursor = scanned[-1].id if scanned else after_id
    shown = [e for e in scanned if types is None or e.type in types]
    return shown, cursor, len(scanned) == limit


def last_id(session: Session, rep: Rep) -> int:
    rows = latest(session, rep, limit=1, types=None)
    return rows[0].id if rows else 0
