"""The organisation's bulk-sender meter.

Gmail and Yahoo count every message from one *primary* domain (the From address's registrable
domain: mail.acme.co.uk counts as acme.co.uk) to their consumer users together, across every
sender on it; at 5,000 a day to personal Gmail a domain is a bulk sender for good
(support.google.com/a/answer/14229414). Outlook.com applies its own rules to high-volume
senders (5.7.515). We count, per UTC day, per primary sending domain and per consumer provider,
every email that went out from the organisation's mailboxes: in the transaction that records
the sent email (`count_message`, called by enrollments/tasks.record_sent_email), so the count is
exact and costs one upsert. Workspace / Microsoft 365 recipients are not consumer users and do
not count.

- at `warn_share` (70%) of the line: a `bulk_meter_warning` feed event for the organisation and
  an email to its admins (`notify_warnings`, a dispatcher duty; SMTP_URL);
- at the line: a `bulk_meter_line` event; when the organisation's `bulk_hold` is on, automatic
  first emails to that provider's users wait until the next UTC day (`hold_reason`, asked by
  the send job before its claim). People already emailed go on: their thread is started.

Pure functions first (no database, no clock), then those that take a Session (never commit).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from functools import lru_cache
from typing import cast

from publicsuffixlist import PublicSuffixList
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from addin_server import dates, feed
from addin_server.config import Settings
from addin_server.db import rowcount, session_scope
from addin_server.mailboxes.notify import send_smtp
from addin_server.models import BulkCount, Mailbox, Organisation, Rep
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

GMAIL, YAHOO, OUTLOOK = "gmail", "yahoo", "outlook"
PROVIDERS = (GMAIL, YAHOO, OUTLOOK)
PROVIDER_NAMES = {GMAIL: "Gmail", YAHOO: "Yahoo", OUTLOOK: "Outlook.com"}
# The providers' number, not a preference: 5,000 a day makes a bulk sender. Warn at 70%.
LINE = 5000
WARN_SHARE = 0.7

# Consumer domains by their registrable domain's first label ("yahoo" covers yahoo.com,
# yahoo.co.uk, yahoo.co.jp ...), or the whole domain.
_BY_LABEL = {"yahoo": YAHOO, "hotmail": OUTLOOK, "live": OUTLOOK}
_BY_DOMAIN = {
    "gmail.com": GMAIL, "googlemail.com": GMAIL,
    # Yahoo's sender requirements cover its other consumer brands, AOL included.
    "ymail.com": YAHOO, "rocketmail.com": YAHOO, "aol.com": YAHOO,
    "outlook.com": OUTLOOK, "msn.com": OUTLOOK, "passport.com": OUTLOOK,
}


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled list: no network


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().strip(".").lower()


def primary_domain(address: str) -> str:
    """The registrable domain of an address (or domain): `ann@mail.acme.co.uk` -> `acme.co.uk`.
    A domain the public suffix list does not know is kept whole."""
    domain = _domain(address)
    return cast("str | None", _psl().privatesuffix(domain)) or domain


def consumer_provider(address: str) -> str | None:
    """gmail, yahoo or outlook when the address is a consumer mailbox of that provider."""
    registrable = primary_domain(address)
    if registrable in _BY_DOMAIN:
        return _BY_DOMAIN[registrable]
    label = registrable.split(".", 1)[0]
    return _BY_LABEL.get(label) if "." in registrable else None


def warn_at(line: int = LINE, share: float = WARN_SHARE) -> int:
    """The count at which the warning is given (70% of 5,000: 3,500)."""
    return max(1, round(line * share))


def next_day(now: datetime) -> datetime:
    """The start of the next UTC day: when a held first email may go."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), UTC)


@dataclass(frozen=True)
class ProviderUse:
    provider: str
    n: int
    line: int

    @property
    def share(self) -> float:
        return self.n / self.line if self.line else 0.0

    @property
    def name(self) -> str:
        return PROVIDER_NAMES[self.provider]


@dataclass
class DomainMeter:
    """One primary sending domain's counts today, per consumer provider."""

    domain: str
    day: date
    line: int
    warn: int
    uses: list[ProviderUse] = field(default_factory=list)

    @property
    def top(self) -> ProviderUse:
        return max(self.uses, key=lambda u: u.n)

    @property
    def level(self) -> str:
        """"ok", "warn" (past the warning share) or "line" (at the line)."""
        n = self.top.n
        return "line" if n >= self.line else "warn" if n >= self.warn else "ok"


# --- counting, in the transaction of the send ------------------------------------------------


def count_message(session: Session, *, org_id: int, rep_id: int, from_addr: str, to_addr: str,
                  at: datetime, line: int = LINE, warn_share: float = WARN_SHARE
                  ) -> int | None:
    """Count one email that went out; returns the day's count for its provider, or None when
    the recipient is no consumer mailbox. The count that reaches the warning share (or the
    line) is the one that says so: exactly one transaction sees each value."""
    provider = consumer_provider(to_addr)
    if provider is None:
        return None
    domain, day = primary_domain(from_addr), at.astimezone(UTC).date()
    table = cast(Table, BulkCount.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    n = int(session.execute(
        insert.values(org_id=org_id, domain=domain, day=day, provider=provider, n=1)
        .on_conflict_do_update(index_elements=["org_id", "domain", "day", "provider"],
                               set_={"n": table.c.n + 1})
        .returning(table.c.n)).scalar_one())
    if n in (warn_at(line, warn_share), line):
        _tell(session, org_id, rep_id, domain, day, provider, n, line, at)
    return n


def _tell(session: Session, org_id: int, rep_id: int, domain: str, day: date, provider: str,
          n: int, line: int, at: datetime) -> None:
    at_line = n >= line
    if not at_line:
        session.execute(update(BulkCount).where(
            BulkCount.org_id == org_id, BulkCount.domain == domain, BulkCount.day == day,
            BulkCount.provider == provider).values(warned_at=at)
            .execution_options(synchronize_session=False))
    feed.record(session, org_id=org_id, rep_id=rep_id,
                type=feed.BULK_LINE if at_line else feed.BULK_WARNING, at=at, domain=domain,
                provider=provider, count=n, line=line,
                reason=describe(domain, PROVIDER_NAMES[provider], n, line))


def describe(domain: str, provider_name: str, n: int, line: int) -> str:
    return (f"{domain} sent {n:,} emails to {provider_name} users today "
            f"({n / line:.0%} of the {line:,} a day that makes a domain a bulk sender)")


# --- reading ---------------------------------------------------------------------------------


def org_domains(session: Session, org_id: int) -> list[str]:
    """The primary domains of the organisation's mailboxes."""
    return sorted({primary_domain(a) for a in session.scalars(
        select(Mailbox.address).join(Rep, Rep.id == Mailbox.rep_id)
        .where(Rep.org_id == org_id))})


def today_counts(session: Session, org_id: int, now: datetime,
                 domains: list[str] | None = None) -> dict[tuple[str, str], int]:
    query = select(BulkCount.domain, BulkCount.provider, BulkCount.n).where(
        BulkCount.org_id == org_id, BulkCount.day == now.astimezone(UTC).date())
    if domains is not None:
        query = query.where(BulkCount.domain.in_(domains))
    return {(d, p): int(n) for d, p, n in session.execute(query)}


def meters(session: Session, org_id: int, now: datetime,
           domains: list[str] | None = None, line: int = LINE) -> list[DomainMeter]:
    """Today's meter of each of the organisation's primary sending domains (and any other
    that counted today)."""
    counts = today_counts(session, org_id, now, domains)
    names = sorted(set(domains if domains is not None else org_domains(session, org_id))
                   | {d for d, _ in counts})
    return [DomainMeter(d, now.astimezone(UTC).date(), line, warn_at(line),
                        [ProviderUse(p, counts.get((d, p), 0), line) for p in PROVIDERS])
            for d in names]


# --- holding first emails at the line --------------------------------------------------------


def hold_reason(session: Session, org: Organisation, from_addr: str, to_addr: str,
                now: datetime, line: int = LINE) -> str | None:
    """Why an automatic first email from `from_addr` to `to_addr` must wait until tomorrow,
    or None: the organisation holds at the line and the day's count reached it."""
    if not org.bulk_hold:
        return None
    provider = consumer_provider(to_addr)
    if provider is None:
        return None
    domain = primary_domain(from_addr)
    n = today_counts(session, org.id, now, [domain]).get((domain, provider), 0)
    if n < line:
        return None
    return (f"held by the bulk-sender meter: {describe(domain, PROVIDER_NAMES[provider], n, line)}"
            f"; automatic first emails to {PROVIDER_NAMES[provider]} addresses wait until "
            f"{dates.absolute(next_day(now), 'UTC', named=True, year=False)} "
            "(the organisation's setting)")


# --- telling the admins ----------------------------------------------------------------------


def _warning_email(settings: Settings, to: list[str], row: BulkCount) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(to)
    name = PROVIDER_NAMES.get(row.provider, row.provider)
    msg["Subject"] = f"{row.domain} is nearing the bulk-sender line at {name}"
    msg.set_content(
        f"{describe(row.domain, name, row.n, LINE)}.\n\n"
        "A domain that sends 5,000 messages a day to personal Gmail accounts is a bulk sender "
        "for good, with stricter rules (aligned DMARC, one-click unsubscribe, spam rate under "
        "0.3%). The meter and the organisation's setting (hold first emails at the line) are "
        "on the Mailboxes page:\n\n"
        f"  {settings.public_base_url}/mailboxes\n")
    return msg


def notify_warnings(rt: Runtime, now: datetime) -> int:
    """Email the admins once per warning (a dispatcher duty; off without SMTP_URL). The notice
    is claimed with a conditional UPDATE and given back when the relay fails."""
    if not rt.settings.smtp_url or not rt.settings.mail_from:
        return 0
    with rt.sessions() as session:
        ids = list(session.scalars(select(BulkCount.id).where(
            BulkCount.warned_at.is_not(None), BulkCount.notified_at.is_(None))))
    told = 0
    for row_id in ids:
        with session_scope(rt.sessions) as session:
            if not rowcount(session.execute(update(BulkCount).where(
                    BulkCount.id == row_id, BulkCount.notified_at.is_(None))
                    .values(notified_at=now))):
                continue
            row = session.get(BulkCount, row_id)
            assert row is not None
            admins = sorted(session.scalars(select(Rep.email).where(
                Rep.org_id == row.org_id, Rep.is_admin.is_(True))))
            message = _warning_email(rt.settings, admins, row) if admins else None
        if message is None:
            continue
        try:
            send_smtp(rt.settings, message)
            told += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("could not email about the bulk meter (%s): %s", row_id, exc)
            with session_scope(rt.sessions) as session:
                session.execute(update(BulkCount).where(BulkCount.id == row_id)
                                .values(notified_at=None))
    return told
