"""Provider hard stops mapped to actions (rules.hard_stop names them): what happens to the
mailbox or the domain when a provider refuses our mail because of the sender, whether the
refusal came back as an API error (sending/job.py) or as a DSN in the rep's inbox
(inbound/rules.py). None of these is a bounce of the person. Functions take a Session and
never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from addin_server import dates, feed
from addin_server.guard.breakers import domain_mailboxes, domain_of, trip_mailbox
from addin_server.guard.rules import (
    AUTHENTICATION,
    RESTRICTED_SENDER,
    SENDING_LIMIT,
    HardStop,
    lowered_cap,
)
from addin_server.mailboxes.state import pause_mailbox
from addin_server.models import Mailbox, Rep

DEFAULT_PAUSE = timedelta(hours=24)  # when the provider names no time
SCOPE_RESTRICTED = "restricted"


def apply_hard_stop(session: Session, mailbox: Mailbox, stop: HardStop, now: datetime, *,
                    detail: str, until: datetime | None = None, default_cap: int = 450) -> str:
    """Act on a hard stop of `mailbox`; returns what was done, in words."""
    if stop.kind == SENDING_LIMIT:
        return _sending_limit(session, mailbox, stop, now, detail=detail,
                              until=until or now + DEFAULT_PAUSE, default_cap=default_cap)
    if stop.kind == RESTRICTED_SENDER:
        reason = f"{stop.code}: {stop.fix}"
        trip_mailbox(session, mailbox, reason, SCOPE_RESTRICTED, now)
        return "mailbox paused: an Exchange admin must release it"
    if stop.kind == AUTHENTICATION:
        return _flag_domain(session, mailbox, stop, now, detail=detail)
    return "nothing to do"


def _sending_limit(session: Session, mailbox: Mailbox, stop: HardStop, now: datetime, *,
                   detail: str, until: datetime, default_cap: int) -> str:
    if mailbox.paused_until is not None and mailbox.paused_until >= until:
        return "mailbox already paused"  # the same limit, told twice: lower the cap once
    cap = lowered_cap(mailbox.daily_cap, default_cap)
    mailbox.daily_cap = cap
    pause_mailbox(session, mailbox, until,
                  f"daily sending limit reached ({stop.code}): {detail}"[:500], now)
    return (f"mailbox paused until {dates.absolute(until, 'UTC', named=True)}, daily cap lowered "
            f"to {cap}")


def _flag_domain(session: Session, mailbox: Mailbox, stop: HardStop, now: datetime, *,
                 detail: str) -> str:
    rep = session.get(Rep, mailbox.rep_id)
    assert rep is not None
    domain = domain_of(mailbox.address)
    warning = f"{stop.code}: {stop.fix}"
    boxes = domain_mailboxes(session, rep.org_id, domain)
    if all(b.guard_warning == warning for b in boxes):
        return f"domain {domain} already flagged"
    for box in boxes:
        box.guard_warning = warning
    feed.record(session, org_id=rep.org_id, type=feed.DOMAIN_FLAGGED, at=now, rep_id=rep.id,
                mailbox_id=mailbox.id, address=mailbox.address, domain=domain, code=stop.code,
                reason=warning, detail=detail[:500])
    return f"domain {domain} flagged: {stop.fix}"
