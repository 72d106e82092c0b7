"""The hard-bounce circuit breakers: per mailbox, per sending domain (every mailbox of the
organisation on it) and per campaign. Functions take a Session and never commit.

A bounce is recorded (`record_bounce`) where it is recognised: the send job when the provider
refuses a recipient for good (sending/job.py), the inbound rules when a DSN arrives
(inbound/rules.apply_bounce). `evaluate` then counts each breaker's window (rules.py decides)
and trips what crossed its line: the send job evaluates its own bounce at once; a DSN's is
evaluated by the dispatcher's duty (`evaluate_pending`), since the inbound path has no settings.

A tripped mailbox (or domain: all its mailboxes) stops its automatic emails: `sendable`
(sending/outbox.py) reads `Mailbox.guard_reason`. A tripped campaign starts nobody new: its
first emails wait. Each trip is a feed event for the rep (admins see every event) and an email
when SMTP is configured (notify.py). A person releases it (`release_*`), or, when
`cooloff_hours` is set, `cool_off` releases a mailbox after that time at a lower daily cap.
Bounces before a release do not count again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Subquery, func, literal, select, union_all, update
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.db import rowcount
from addin_server.enums import PENDING_SEND, SendState
from addin_server.guard.rules import Thresholds, Window, campaign_trip, domain_trip, mailbox_trip
from addin_server.models import Bounce, Campaign, Enrollment, Mailbox, Rep, Send, SentMessage

SCOPE_MAILBOX, SCOPE_DOMAIN = "mailbox", "domain"


_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def status_code(text: str) -> str:
    """The enhanced status code (RFC 3463, e.g. "5.1.1") a provider's message names, or ""."""
    found = _CODE.search(text)
    return found.group(1) if found else ""


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower()


def record_bounce(session: Session, *, org_id: int, mailbox_id: int | None,
                  enrollment: Enrollment | None, address: str, source: str, now: datetime,
                  code: str = "", text: str = "", provider: str = "",
                  held: bool = False) -> Bounce:
    """A hard bounce of one of our emails, for the breakers to count."""
    mailbox = session.get(Mailbox, mailbox_id) if mailbox_id else None
    row = Bounce(org_id=org_id, mailbox_id=mailbox_id,
                 campaign_id=enrollment.campaign_id if enrollment else None,
                 enrollment_id=enrollment.id if enrollment else None,
                 address=address.strip().lower(),
                 sending_domain=domain_of(mailbox.address) if mailbox else "",
                 source=source, code=code, text=text[:2000], at=now, provider=provider,
                 held=held, evaluated_at=now if held else None)
    session.add(row)
    session.flush()
    return row


def _outcomes(mailbox_ids: list[int], since: datetime | None) -> Subquery:
    """Times of the mailboxes' emails: those that went, and those refused at the API."""
    sent = select(SentMessage.sent_at.label("t"), literal(0).label("b")).where(
        SentMessage.mailbox_id.in_(mailbox_ids))
    refused = select(Bounce.at.label("t"), literal(1).label("b")).where(
        Bounce.mailbox_id.in_(mailbox_ids), Bounce.source == "api")
    if since is not None:
        sent = sent.where(SentMessage.sent_at > since)
        refused = refused.where(Bounce.at > since)
    return union_all(sent, refused).subquery()


def _mailbox_window(session: Session, mailbox: Mailbox, size: int) -> Window:
    """Its last `size` emails (since its last release) and the hard bounces among them."""
    outcomes = _outcomes([mailbox.id], mailbox.guard_released_at)
    times = list(session.scalars(select(outcomes.c.t).order_by(outcomes.c.t.desc())
                                 .limit(size)))
    if not times:
        return Window(0, 0)
    start = times[-1]
    bounces = session.scalar(select(func.count()).where(
        Bounce.mailbox_id == mailbox.id, Bounce.at >= start, Bounce.held.is_(False),
        *([Bounce.at > mailbox.guard_released_at] if mailbox.guard_released_at else []))) or 0
    return Window(len(times), int(bounces))


def _campaign_window(session: Session, campaign: Campaign) -> Window:
    """Its first emails (people emailed at least once, plus first emails refused at the API)
    since its last release, and the hard bounces among them."""
    since = campaign.guard_released_at
    emailed = select(func.count(func.distinct(SentMessage.enrollment_id))).join(
        Enrollment, Enrollment.id == SentMessage.enrollment_id).where(
        Enrollment.campaign_id == campaign.id)
    bounced = select(func.count(func.distinct(Bounce.enrollment_id))).where(
        Bounce.campaign_id == campaign.id, Bounce.held.is_(False))
    refused = select(func.count()).where(Bounce.campaign_id == campaign.id,
                                         Bounce.source == "api")
    if since is not None:
        emailed = emailed.where(SentMessage.sent_at > since)
        bounced = bounced.where(Bounce.at > since)
        refused = refused.where(Bounce.at > since)
    sends = (session.scalar(emailed) or 0) + (session.scalar(refused) or 0)
    return Window(int(sends), int(session.scalar(bounced) or 0))


def domain_mailboxes(session: Session, org_id: int, domain: str) -> list[Mailbox]:
    return [m for m in session.scalars(select(Mailbox).join(Rep, Rep.id == Mailbox.rep_id)
                                       .where(Rep.org_id == org_id).order_by(Mailbox.id))
            if domain_of(m.address) == domain]


def _domain_window(session: Session, org_id: int, domain: str, hours: float,
                   now: datetime) -> tuple[Window, list[Mailbox]]:
    boxes = domain_mailboxes(session, org_id, domain)
    if not boxes:
        return Window(0, 0), boxes
    since = now - timedelta(hours=hours)
    released = [m.guard_released_at for m in boxes if m.guard_released_at is not None]
    if released and max(released) > since:
        since = max(released)
    outcomes = _outcomes([m.id for m in boxes], since)
    sends = session.scalar(select(func.count()).select_from(outcomes)) or 0
    bounces = session.scalar(select(func.count()).where(
        Bounce.org_id == org_id, Bounce.sending_domain == domain, Bounce.at > since,
        Bounce.held.is_(False))) or 0
    return Window(int(sends), int(bounces)), boxes


def evaluate(session: Session, t: Thresholds, bounce: Bounce, now: datetime) -> list[str]:
    """Count the windows this bounce belongs to and trip what crossed its line. Returns the
    reasons of the breakers it tripped (empty when none)."""
    bounce.evaluated_at = now
    tripped: list[str] = []
    mailbox = session.get(Mailbox, bounce.mailbox_id) if bounce.mailbox_id else None
    if mailbox is not None and not mailbox.guard_reason:
        why = mailbox_trip(t, _mailbox_window(session, mailbox, t.mailbox_burst_window),
                           _mailbox_window(session, mailbox, t.mailbox_window))
        if why and trip_mailbox(session, mailbox, why, SCOPE_MAILBOX, now):
            tripped.append(why)
    if bounce.sending_domain:
        window, boxes = _domain_window(session, bounce.org_id, bounce.sending_domain,
                                       t.domain_hours, now)
        why = domain_trip(t, bounce.sending_domain, window)
        if why and any(not m.guard_reason for m in boxes):
            for box in boxes:
                trip_mailbox(session, box, why, SCOPE_DOMAIN, now)
            tripped.append(why)
    campaign = session.get(Campaign, bounce.campaign_id) if bounce.campaign_id else None
    if campaign is not None and not campaign.guard_reason:
        why = campaign_trip(t, _campaign_window(session, campaign))
        if why and trip_campaign(session, campaign, why, now):
            tripped.append(why)
    return tripped


def evaluate_pending(session: Session, t: Thresholds, now: datetime, limit: int = 500) -> int:
    """Evaluate the bounces nobody evaluated yet (those that came as DSNs)."""
    rows = list(session.scalars(select(Bounce).where(Bounce.evaluated_at.is_(None))
                                .order_by(Bounce.id).limit(limit)))
    for row in rows:
        evaluate(session, t, row, now)
    return len(rows)


def _mailbox_event(session: Session, mailbox: Mailbox, type_: str, now: datetime,
                   **data: Any) -> None:
    rep = session.get(Rep, mailbox.rep_id)
    assert rep is not None
    feed.record(session, org_id=rep.org_id, type=type_, at=now, rep_id=rep.id,
                mailbox_id=mailbox.id, address=mailbox.address, **data)


def trip_mailbox(session: Session, mailbox: Mailbox, reason: str, scope: str,
                 now: datetime) -> bool:
    """Pause the mailbox's automatic emails with `reason`. False when it already was."""
    changed = rowcount(session.execute(
        update(Mailbox).where(Mailbox.id == mailbox.id, Mailbox.guard_reason == "")
        .values(guard_reason=reason, guard_scope=scope, guard_tripped_at=now,
                guard_notified_at=None, updated_at=now)
        .execution_options(synchronize_session=False)))
    session.refresh(mailbox)
    if changed:
        _mailbox_event(session, mailbox, feed.BREAKER_TRIPPED, now, scope=scope, reason=reason)
    return bool(changed)


def trip_campaign(session: Session, campaign: Campaign, reason: str, now: datetime) -> bool:
    changed = rowcount(session.execute(
        update(Campaign).where(Campaign.id == campaign.id, Campaign.guard_reason == "")
        .values(guard_reason=reason, guard_tripped_at=now, guard_notified_at=None)
        .execution_options(synchronize_session=False)))
    session.refresh(campaign)
    if changed:
        feed.record(session, org_id=campaign.org_id, type=feed.BREAKER_TRIPPED, at=now,
                    rep_id=campaign.rep_id, campaign_id=campaign.id, scope="campaign",
                    reason=reason)
    return bool(changed)


def _resume_sends(session: Session, mailbox_ids: list[int], now: datetime) -> int:
    """The waiting sends lose their "paused" reason; the dispatcher promotes the due ones."""
    return rowcount(session.execute(
        update(Send).where(Send.mailbox_id.in_(mailbox_ids), Send.state.in_(PENDING_SEND),
                           Send.state != SendState.HELD)
        .values(reason="", updated_at=now).execution_options(synchronize_session=False)))


def release_mailbox(session: Session, mailbox: Mailbox, now: datetime, *, by: str,
                    cap: int | None = None) -> bool:
    """A person (or the cooling-off time) lets the mailbox send again; with `cap`, at most
    that many a day. A domain breaker is released for every mailbox on the domain."""
    if not mailbox.guard_reason:
        return False
    boxes = [mailbox]
    if mailbox.guard_scope == SCOPE_DOMAIN:
        rep = session.get(Rep, mailbox.rep_id)
        assert rep is not None
        boxes = [m for m in domain_mailboxes(session, rep.org_id, domain_of(mailbox.address))
                 if m.guard_scope == SCOPE_DOMAIN and m.guard_reason]
    for box in boxes:
        was = box.guard_reason
        box.guard_reason, box.guard_scope, box.guard_released_at = "", "", now
        if cap is not None:
            box.daily_cap = min(box.daily_cap or cap, cap)
        box.updated_at = now
        _mailbox_event(session, box, feed.BREAKER_RELEASED, now, by=by, was=was,
                       daily_cap=box.daily_cap)
    session.flush()
    _resume_sends(session, [b.id for b in boxes], now)
    return True


def release_campaign(session: Session, campaign: Campaign, now: datetime, *, by: str) -> bool:
    if not campaign.guard_reason:
        return False
    was = campaign.guard_reason
    campaign.guard_reason, campaign.guard_released_at = "", now
    session.flush()
    feed.record(session, org_id=campaign.org_id, type=feed.BREAKER_RELEASED, at=now,
                rep_id=campaign.rep_id, campaign_id=campaign.id, scope="campaign", by=by,
                was=was)
    return True


def cool_off(session: Session, t: Thresholds, now: datetime) -> int:
    """Release the mailboxes whose breaker tripped `cooloff_hours` ago, at `cooloff_cap` a day
    (a periodic duty; off when `cooloff_hours` is 0). Returns how many were released."""
    if t.cooloff_hours <= 0:
        return 0
    before = now - timedelta(hours=t.cooloff_hours)
    due = list(session.scalars(select(Mailbox).where(
        Mailbox.guard_reason != "", Mailbox.guard_tripped_at <= before).order_by(Mailbox.id)))
    released = 0
    for mailbox in due:
        if mailbox.guard_reason:  # a domain release may have freed it already
            released += release_mailbox(session, mailbox, now, by="cooling-off time",
                                        cap=t.cooloff_cap)
    return released
