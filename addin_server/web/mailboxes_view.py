"""What the Mailboxes page shows (web/pages.py serves it): per mailbox its state with every
reason (disconnected, bounce breaker, provider hard stop, provider pause, ramp-up, the rep's
vacation), its limits, its 7-day forecast as a small chart; the sending domains' authentication
check and bulk-sender meter; the organisation's deliverability settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.enrollments.status import mailbox_reason
from addin_server.enums import EnrollmentStatus, MailboxProvider
from addin_server.guard import absence, authcheck, meter
from addin_server.inbound.quarantine import held_bursts
from addin_server.models import Bounce, Campaign, Enrollment, Mailbox, Organisation, Rep, Send
from addin_server.runtime import runtime
from addin_server.sending import pacing
from addin_server.web.report_chart import forecast_svg


@dataclass(frozen=True)
class MailboxView:
    row: Mailbox
    problem: str | None  # why it cannot send now (mailbox_reason)
    cap_today: int | None
    chart: Markup
    away: str  # the vacation responder, in words ("" when nothing to say)


def _away(box: Mailbox, tz: str, now: datetime) -> str:
    if box.away_error:
        return box.away_error
    if not box.away_on:
        return ""
    when = ""
    if box.away_start and box.away_start > now:
        when = f" from {dates.described(box.away_start, tz, now)}"
    until = (f" until {dates.described(box.away_end, tz, now)}" if box.away_end
             else " until it is turned off")
    waits = ("automatic emails and due tasks wait" if box.away_hold
             else "automatic emails go on (the organisation's setting)")
    return f"vacation responder on{when}{until}: {waits}"


def authentication(rows: list[Mailbox]) -> dict[str, list[authcheck.Finding]]:
    """SPF, DKIM and DMARC of each sending domain of these mailboxes (not the local one)."""
    settings = runtime().settings
    txt = authcheck.resolver(settings)
    domains = {m.address.rsplit("@", 1)[-1].lower(): m.provider.value for m in rows
               if m.provider != MailboxProvider.LOCAL}
    return {d: authcheck.check_domain(d, p, txt, settings.dkim_selectors)
            for d, p in sorted(domains.items())}


def mailbox_views(session: Session, rep: Rep, rows: list[Mailbox], now: datetime
                  ) -> list[MailboxView]:
    today = now.astimezone(ZoneInfo(rep.timezone)).date()
    out = []
    for m in rows:
        days = [{"date": d.day.isoformat(), "due": d.due, "expected": d.expected, "cap": d.cap}
                for d in pacing.forecast(session, m, now, days=7)]
        out.append(MailboxView(
            m, mailbox_reason(m, now), pacing.pace_of(session, m).cap_on(today),
            forecast_svg(days, f"Next 7 days of {m.address}"), _away(m, rep.timezone, now)))
    return out


def held_for_review(session: Session, rep: Rep) -> list[dict[str, Any]]:
    """The bounce bursts held for review, per provider, with a few examples (admins only: only
    they may release one)."""
    if not rep.is_admin:
        return []
    out = []
    for burst in held_bursts(session, rep.org_id):
        examples = session.execute(
            select(Bounce.address, Bounce.code).where(
                Bounce.org_id == rep.org_id, Bounce.provider == burst["provider"],
                Bounce.held.is_(True), Bounce.released_at.is_(None))
            .order_by(Bounce.at, Bounce.id).limit(3)).all()
        out.append({**burst, "examples": [(a, c) for a, c in examples]})
    return out


def page_context(session: Session, rep: Rep, now: datetime) -> dict[str, Any]:
    rows = list(session.scalars(select(Mailbox).where(Mailbox.rep_id == rep.id)
                                .order_by(Mailbox.id)))
    waiting = dict(session.execute(
        select(Send.mailbox_id, func.count()).join(Enrollment, Enrollment.id == Send.enrollment_id)
        .where(Enrollment.rep_id == rep.id, Enrollment.status == EnrollmentStatus.ACTIVE,
               Send.state.in_(("scheduled", "queued", "held")))
        .group_by(Send.mailbox_id)
    ).all())
    # Campaigns whose bounce breaker stopped them starting people: the rep's, every one of the
    # organisation's for an admin.
    paused = select(Campaign).where(Campaign.org_id == rep.org_id, Campaign.guard_reason != "")
    if not rep.is_admin:
        paused = paused.where(Campaign.rep_id == rep.id)
    org = session.get(Organisation, rep.org_id)
    assert org is not None
    return {
        "mailboxes": mailbox_views(session, rep, rows, now), "waiting": waiting,
        "paused_campaigns": list(session.scalars(paused.order_by(Campaign.id))),
        "authentication": authentication(rows),
        "meters": meter.meters(session, rep.org_id, now,
                               None if rep.is_admin else sorted(
                                   {meter.primary_domain(m.address) for m in rows})),
        "held_bursts": held_for_review(session, rep),
        "org": org, "absence_reason": absence.absence_reason,
    }
