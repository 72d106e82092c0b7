"""Rep absence read from the mailbox: the rep's own vacation responder.

When the organisation reads it (`Organisation.read_absence`; it needs one more OAuth scope:
Gmail's gmail.settings.basic, Graph's MailboxSettings.Read), a periodic job (workers/absence.py)
reads each Gmail / Microsoft mailbox's responder (`users.settings.getVacation`,
`mailboxSettings/automaticRepliesSetting`) and `record_vacation` keeps it on the mailbox row.
While it is on (between its start and end, either open) and the organisation's setting is
"wait" (`absence_hold`, copied on the row as `away_hold`), the rep's automatic emails wait
(`sendable` in sending/outbox.py reads `away_now`) and their due tasks are not announced,
with the reason and the return date wherever a send's "why" is shown (`absence_reason`). They
resume when it ends: at its end time without another read, or when the rep turns it off.

Functions take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.orm import Session

from addin_server import dates, feed
from addin_server.db import rowcount
from addin_server.enums import PENDING_SEND, SendState
from addin_server.mailboxes.port import Vacation
from addin_server.models import Mailbox, Organisation, Rep, Send


def is_away(mailbox: Mailbox, now: datetime) -> bool:
    """The responder is on now (whatever the setting)."""
    return Vacation(mailbox.away_on, mailbox.away_start, mailbox.away_end).active(now)


def until_text(end: datetime | None) -> str:
    if end is None:
        return "until the responder is turned off"
    return f"until {dates.absolute(end, 'UTC', named=True)}"


def absence_reason(mailbox: Mailbox, now: datetime) -> str | None:
    """Why the mailbox's automatic emails wait for the rep's return, or None."""
    if not mailbox.away_hold or not is_away(mailbox, now):
        return None
    back = (f"they return {dates.absolute(mailbox.away_end, 'UTC', named=True)}"
            if mailbox.away_end
            else "they return when the responder is turned off")
    return (f"the rep is away: the vacation responder of {mailbox.address} is on; automatic "
            f"emails and due tasks wait ({back})")


def away_now(now: datetime) -> ColumnElement[bool]:
    """SQL: the mailbox's rep is away and the organisation waits for them."""
    return and_(Mailbox.away_hold.is_(True), Mailbox.away_on.is_(True),
                or_(Mailbox.away_start.is_(None), Mailbox.away_start <= now),
                or_(Mailbox.away_end.is_(None), Mailbox.away_end > now))


def _event(session: Session, mailbox: Mailbox, type_: str, now: datetime, **data: Any) -> None:
    rep = session.get(Rep, mailbox.rep_id)
    assert rep is not None
    feed.record(session, org_id=rep.org_id, type=type_, at=now, rep_id=rep.id,
                mailbox_id=mailbox.id, address=mailbox.address, **data)


def _resume(session: Session, mailbox: Mailbox, now: datetime) -> int:
    """Waiting sends lose their absence reason; the dispatcher promotes the due ones."""
    return rowcount(session.execute(
        update(Send).where(Send.mailbox_id == mailbox.id, Send.state.in_(PENDING_SEND),
                           Send.state != SendState.HELD, Send.reason.like("the rep is away%"))
        .values(reason="", updated_at=now).execution_options(synchronize_session=False)))


def record_vacation(session: Session, mailbox: Mailbox, vacation: Vacation, *, hold: bool,
                    now: datetime) -> str:
    """Keep what the mailbox's responder says; tell the feed when the rep leaves or returns.
    Returns what changed, in words."""
    # Away as of the last read: a responder that ended by its own time since then is a return
    # too (its sends resumed at that time already; the feed and their reasons learn it now).
    was = mailbox.away_checked_at is not None and is_away(mailbox, mailbox.away_checked_at)
    mailbox.away_on, mailbox.away_start, mailbox.away_end = (
        vacation.on, vacation.start, vacation.end)
    mailbox.away_hold, mailbox.away_checked_at, mailbox.away_error = hold, now, ""
    away = vacation.active(now)
    if away and not was:
        _event(session, mailbox, feed.REP_AWAY, now, until=(
            vacation.end.strftime("%Y-%m-%dT%H:%M:%SZ") if vacation.end else None),
            reason=absence_reason(mailbox, now) or f"vacation responder on, "
                                                   f"{until_text(vacation.end)}")
        return "away"
    if was and not away:
        _event(session, mailbox, feed.REP_BACK, now)
        _resume(session, mailbox, now)
        return "back"
    return "away" if away else "here"


def record_error(session: Session, mailbox: Mailbox, error: str, now: datetime) -> None:
    """The responder could not be read (the grant lacks the scope): the rep must reconnect.
    What was known stays."""
    mailbox.away_checked_at, mailbox.away_error = now, error[:500]


def apply_settings(session: Session, org: Organisation, now: datetime) -> None:
    """The organisation changed its absence settings: every mailbox follows at once (reading
    turned off forgets the absences; "go on" lets their sends go)."""
    boxes = list(session.query(Mailbox).join(Rep, Rep.id == Mailbox.rep_id)
                 .filter(Rep.org_id == org.id))
    for box in boxes:
        held_before = box.away_hold and is_away(box, now)
        if not org.read_absence:
            box.away_on, box.away_start, box.away_end, box.away_error = False, None, None, ""
        box.away_hold = org.read_absence and org.absence_hold
        if held_before and not (box.away_hold and is_away(box, now)):
            _resume(session, box, now)
