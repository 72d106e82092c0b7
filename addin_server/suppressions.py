"""Who is never emailed: unsubscribes, the organisation's suppression list, blocked domains and
bounced addresses; and the signed token of every unsubscribe link. Checked at launch (people
skipped with a reason) and again right before each send (`send_blocker`). Use cases take a
Session and never commit; an unsubscribe that also ends enrollments is inbound/unsubscribe.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, delete, func, literal, select, union_all
from sqlalchemy.orm import Session, selectinload

from addin_server.db import LIKE_ESCAPE, among, chunk_size, contains_pattern, rowcount
from addin_server.errors import Conflict
from addin_server.models import BlockedDomain, Person, Suppression
from addin_server.validation import domain_of

UNSUBSCRIBED = "unsubscribed"
SUPPRESSED = "suppressed"
BLOCKED_DOMAIN = "blocked domain"
BOUNCED = "bounced"


def suppress(session: Session, org_id: int, email: str, reason: str, now: datetime,
             *, rep_id: int | None = None, note: str = "") -> bool:
    """Put an address on the organisation's suppression list (False when it already was)."""
    email = email.strip().lower()
    if session.scalar(select(Suppression.id).where(Suppression.org_id == org_id,
                                                    Suppression.email == email)):
        return False
    session.add(Suppression(org_id=org_id, email=email, reason=reason, note=note,
                            created_by=rep_id, created_at=now))
    session.flush()
    return True


def suppression_query(org_id: int, q: str = "", reason: str = ""
                      ) -> Select[Suppression]:
    """The organisation's list by address, with who added each; `q` finds part of an address."""
    query = select(Suppression).where(Suppression.org_id == org_id).options(
        selectinload(Suppression.creator))
    if q:
        query = query.where(Suppression.email.like(contains_pattern(q), escape=LIKE_ESCAPE))
    if reason:
        query = query.where(Suppression.reason == reason)
    return query.order_by(Suppression.email)


def domain_query(org_id: int, q: str = "") -> Select[BlockedDomain]:
    query = select(BlockedDomain).where(BlockedDomain.org_id == org_id).options(
        selectinload(BlockedDomain.creator))
    if q:
        query = query.where(BlockedDomain.domain.like(contains_pattern(q), escape=LIKE_ESCAPE))
    return query.order_by(BlockedDomain.domain)


def count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(
        query.order_by(None).options().subquery())) or 0


def suppress_many(session: Session, org_id: int, emails: list[str], now: datetime, *,
                  rep_id: int, note: str = "") -> tuple[list[str], list[str]]:
    """Put many addresses on the list by hand: (added, already there). A few queries per
    chunk, whatever the count."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails))
    present: set[str] = set()
    size = chunk_size(session)
    for i in range(0, len(wanted), size):
        present.update(session.scalars(select(Suppression.email).where(
            Suppression.org_id == org_id, among(session, Suppression.email,
                                                wanted[i: i + size]))))
    added = [e for e in wanted if e not in present]
    session.add_all([Suppression(org_id=org_id, email=e, reason="manual", note=note,
                                 created_by=rep_id, created_at=now) for e in added])
    session.flush()
    return added, [e for e in wanted if e in present]


def block_domains(session: Session, org_id: int, domains: list[str], now: datetime, *,
                  rep_id: int, note: str = "") -> tuple[list[str], list[str]]:
    """Block many domains at once: (added, already blocked)."""
    wanted = list(dict.fromkeys(d.strip().lower().lstrip("@") for d in domains))
    present = set(session.scalars(select(BlockedDomain.domain).where(
        BlockedDomain.org_id == org_id)))
    added = [d for d in wanted if d not in present]
    session.add_all([BlockedDomain(org_id=org_id, domain=d, note=note, created_by=rep_id,
                                   created_at=now) for d in added])
    session.flush()
    return added, [d for d in wanted if d in present]


def unsubscribe_token(secret_key: str, org_id: int, email: str) -> str:
    return URLSafeSerializer(secret_key, salt="unsubscribe").dumps([org_id, email])


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[int, str] | None:
    try:
        org_id, email = URLSafeSerializer(secret_key, salt="unsubscribe").loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return int(org_id), str(email)


def unsubscribe_url(base_url: str, secret_key: str, org_id: int, email: str) -> str:
    return f"{base_url}/u/{unsubscribe_token(secret_key, org_id, email)}"


def blocked_reasons(session: Session, org_id: int, emails: Iterable[str]) -> dict[str, str]:
    """For each address that must not be emailed, why: unsubscribed, suppressed, blocked
    domain or bounced. Addresses not in the result may be emailed. A few queries per chunk."""
    wanted = sorted({e.lower() for e in emails})
    if not wanted:
        return {}
    reasons: dict[str, str] = {}
    domains = set(session.scalars(select(BlockedDomain.domain).where(
        BlockedDomain.org_id == org_id)))
    size = chunk_size(session)
    for i in range(0, len(wanted), size):
        chunk = wanted[i: i + size]
        for email, reason in session.execute(select(Suppression.email, Suppression.reason).where(
                Suppression.org_id == org_id, among(session, Suppression.email, chunk))):
            reasons[email] = {"unsubscribed": UNSUBSCRIBED, "bounced": BOUNCED}.get(
                reason, SUPPRESSED)
        for email, unsub, bounced in session.execute(
                select(Person.email, Person.unsubscribed_at, Person.bounced_at).where(
                    Person.org_id == org_id, among(session, Person.email, chunk))):
            if unsub is not None:
                reasons[email] = UNSUBSCRIBED
            elif bounced is not None:
                reasons.setdefault(email, BOUNCED)
    for email in wanted:
        if email not in reasons and _blocked(email, domains):
            reasons[email] = BLOCKED_DOMAIN
    return reasons


def person_blocker(session: Session, person: Person) -> str | None:
    """`send_blocker` for a loaded person, in one query (the send job's pre-send check): the
    person row answers for unsubscribed and bounced, one UNION for the list and the domains."""
    email = person.email.lower()
    parts = domain_of(email).split(".")
    parents = [".".join(parts[i:]) for i in range(len(parts) - 1)]
    listed = {reason for (reason,) in session.execute(union_all(
        select(Suppression.reason).where(Suppression.org_id == person.org_id,
                                         Suppression.email == email),
        select(literal("", Suppression.reason.type)).where(
            BlockedDomain.org_id == person.org_id, BlockedDomain.domain.in_(parents)),
    ))}
    if person.unsubscribed_at is not None:
        return UNSUBSCRIBED
    suppressed = [r for r in listed if r]  # "" stands for a blocked domain
    if suppressed:
        return {"unsubscribed": UNSUBSCRIBED, "bounced": BOUNCED}.get(suppressed[0], SUPPRESSED)
    if person.bounced_at is not None:
        return BOUNCED
    return BLOCKED_DOMAIN if "" in listed else None


def _blocked(email: str, domains: set[str]) -> bool:
    """The address's domain or any parent of it is blocked (blocking acme.com blocks
    eu.acme.com)."""
    parts = domain_of(email).split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))


def send_blocker(session: Session, org_id: int, email: str) -> str | None:
    """Why an email to this address must not go out now, or None."""
    return blocked_reasons(session, org_id, [email]).get(email.lower())


def remove_suppression(session: Session, org_id: int, email: str) -> bool:
    """Take an address off the list. An unsubscribe stays on the person (only they can undo
    it by writing in); a manual entry or a bounce may be lifted."""
    email = email.strip().lower()
    row = session.scalar(select(Suppression).where(Suppression.org_id == org_id,
                                                   Suppression.email == email))
    if row is None:
        return False
    if row.reason == "unsubscribed":
        raise Conflict("an unsubscribe is the person's choice: it cannot be lifted")
    session.delete(row)
    if row.reason == "bounced":
        person = session.scalar(select(Person).where(Person.org_id == org_id,
                                                     Person.email == email))
        if person is not None:
            person.bounced_at = None
    return True


def add_blocked_domain(session: Session, org_id: int, domain: str, now: datetime, *,
                       rep_id: int, note: str = "") -> bool:
    domain = domain.strip().lower().lstrip("@")
    if session.scalar(select(BlockedDomain.id).where(BlockedDomain.org_id == org_id,
                                                      BlockedDomain.domain == domain)):
        return False
    session.add(BlockedDomain(org_id=org_id, domain=domain, note=note, created_by=rep_id,
                              created_at=now))
    session.flush()
    return True


def remove_blocked_domain(session: Session, org_id: int, domain: str) -> bool:
    domain = domain.strip().lower().lstrip("@")
    return rowcount(session.execute(delete(BlockedDomain).where(
        BlockedDomain.org_id == org_id, BlockedDomain.domain == domain))) > 0


def list_unsubscribe_headers(
    *, base_url: str, secret_key: str, org_id: int, email: str, mailbox_address: str
) -> tuple[tuple[str, str], ...]:
    """RFC 2369 / RFC 8058 headers for every campaign email (OutgoingMessage.extra_headers).

    The https URL takes the one-click POST; the mailto goes to the sending mailbox itself with
    the token in the subject, where reply detection reads it (replies.process_inbound), so no
    extra inbox is needed.
    """
    token = unsubscribe_token(secret_key, org_id, email)
    url = f"{base_url}/u/{token}"
    mailto = f"mailto:{mailbox_address}?subject=unsubscribe%20{token}"
    return (
        ("List-Unsubscribe", f"<{url}>, <{mailto}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
