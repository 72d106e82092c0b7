"""Whose reply is this? Pure matching of an inbound message against the emails we sent.

A message is the person's reply when it is linked to one of our emails to them (in the same
Gmail thread / Graph conversation, or naming one of our Message-IDs in In-Reply-To /
References) and comes from them: their address, another address we know is theirs
(`PersonAddress`), or, when the campaign allows it (`reply_from_same_domain`), an address at
their company's domain (never a shared webmail domain). Gmail and some gateways rewrite
headers and Exchange threads by its own heuristics, so a message from the person's exact
address to the rep that is linked by neither still counts, for their most recently emailed
enrollment. Our own messages never count: anything from one of the rep's addresses or carrying
our send-id header (our threaded follow-ups sit in the same thread).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from addin_server.inbound.classify import (
    SEND_ID_HEADER,
    Classification,
    message_ids,
    own_text,
    sender,
)
from addin_server.validation import domain_of

# Shared webmail domains: "same company domain" means nothing there.
FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.fr", "hotmail.co.uk",
    "live.com", "msn.com", "yahoo.com", "yahoo.fr", "yahoo.co.uk", "ymail.com", "aol.com",
    "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net",
    "gmx.com", "web.de", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "sfr.fr",
    "mail.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "zoho.com", "fastmail.com",
})


@dataclass(frozen=True)
class InboundFacts:
    """What matching needs from an inbound message."""

    provider_message_id: str
    thread_id: str | None
    from_addr: str
    rfc_message_id: str | None
    linked_ids: tuple[str, ...]  # In-Reply-To and References, angle brackets
    send_id: str | None  # our header: the message is one we sent
    received_at: datetime | None = None
    subject: str = ""
    excerpt: str = ""  # the start of the message's own text (above any quote)


def facts_of(msg: Message, *, provider_message_id: str, thread_id: str | None,
             received_at: datetime | None = None) -> InboundFacts:
    linked = message_ids(str(msg.get("In-Reply-To", ""))) + message_ids(
        str(msg.get("References", "")))
    own_id = message_ids(str(msg.get("Message-ID", "")))
    send_id = msg.get(SEND_ID_HEADER)
    return InboundFacts(
        provider_message_id=provider_message_id, thread_id=thread_id, from_addr=sender(msg),
        rfc_message_id=own_id[0] if own_id else None, linked_ids=tuple(dict.fromkeys(linked)),
        send_id=str(send_id).strip() if send_id else None, received_at=received_at,
        subject=str(msg.get("Subject", ""))[:300], excerpt=own_text(msg)[:500],
    )


@dataclass(frozen=True)
class Candidate:
    """One enrollment we emailed from this rep's mailboxes, with what identifies its emails."""

    enrollment_id: int
    person_id: int
    person_email: str
    aliases: frozenset[str]
    thread_ids: frozenset[str]
    message_ids: frozenset[str]  # RFC Message-IDs of our emails to them, angle brackets
    send_ids: frozenset[str]  # our send row ids (the send-id header)
    last_sent_at: datetime
    same_domain_counts: bool = False  # the campaign's reply_from_same_domain


@dataclass(frozen=True)
class Match:
    enrollment_id: int | None
    how: str  # how it was decided, or why nothing matched


def _identity(facts: InboundFacts, c: Candidate) -> str | None:
    sender_addr = facts.from_addr.lower()
    if sender_addr == c.person_email:
        return "from the person"
    if sender_addr in c.aliases:
        return "from another address of the person"
    domain = domain_of(sender_addr)
    if (c.same_domain_counts and domain and domain not in FREEMAIL
            and domain == domain_of(c.person_email)):
        return "from the person's company domain"
    return None


def _link(facts: InboundFacts, c: Candidate) -> str | None:
    if set(facts.linked_ids) & c.message_ids:
        return "names our Message-ID"
    if facts.thread_id and facts.thread_id in c.thread_ids:
        return "in our thread"
    return None


def is_own(facts: InboundFacts, own_addresses: Iterable[str]) -> bool:
    """Our own message (a follow-up in the same thread, a copy in the inbox)."""
    own = {a.lower() for a in own_addresses}
    return bool(facts.send_id) or facts.from_addr.lower() in own


def match_reply(
    facts: InboundFacts, candidates: Sequence[Candidate], own_addresses: Iterable[str]
) -> Match:
    """The enrollment a human reply or automatic reply belongs to."""
    if is_own(facts, own_addresses):
        return Match(None, "our own message")
    linked = []
    for c in candidates:
        link, who = _link(facts, c), _identity(facts, c)
        if link and who:
            # Naming our Message-ID beats being in the thread; then the latest email.
            linked.append((link == "names our Message-ID", c.last_sent_at, c, f"{link}, {who}"))
    if linked:
        _, _, best, how = max(linked, key=lambda t: (t[0], t[1]))
        return Match(best.enrollment_id, how)
    by_sender = [c for c in candidates
                 if _identity(facts, c) in ("from the person", "from another address of the "
                                            "person")]
    if by_sender:
        best = max(by_sender, key=lambda c: c.last_sent_at)
        return Match(best.enrollment_id, f"{_identity(facts, best)} (no thread or header link)")
    if any(_link(facts, c) for c in candidates):
        return Match(None, "someone else wrote in our thread")
    return Match(None, "not about our emails")


def match_bounce(
    facts: InboundFacts, result: Classification, candidates: Sequence[Candidate]
) -> Match:
    """The enrollment whose email bounced. A report that names one of our emails (our send id
    or Message-ID in the returned headers, or our Message-ID in its In-Reply-To / References)
    is that email's bounce, and its recipient is the failed one: each email goes to one
    person. The failed recipients read from the report (DSN fields, X-Failed-Recipients, the
    text) only confirm it; without such a link they decide on their own."""
    failed = set(result.failed_recipients)

    def confirmed(c: Candidate) -> str:
        if not failed:
            return ""
        if c.person_email in failed or c.aliases & failed:
            return "; failed recipient confirmed"
        return f"; the report names {', '.join(sorted(failed))}"

    if result.original_send_id:
        for c in candidates:
            if result.original_send_id in c.send_ids:
                return Match(c.enrollment_id, "the returned message carries our send id"
                             + confirmed(c))
    if result.original_message_id:
        for c in candidates:
            if result.original_message_id in c.message_ids:
                return Match(c.enrollment_id, "the returned message's Message-ID is ours"
                             + confirmed(c))
    named = [c for c in candidates if set(facts.linked_ids) & c.message_ids]
    if named:
        best = max(named, key=lambda c: c.last_sent_at)
        return Match(best.enrollment_id, "the report names our email (In-Reply-To/References)"
                     + confirmed(best))
    to_them = [c for c in candidates if c.person_email in failed or c.aliases & failed]
    linked = [c for c in to_them if _link(facts, c)]
    pool = linked or to_them
    if pool:
        best = max(pool, key=lambda c: c.last_sent_at)
        return Match(best.enrollment_id, "failed recipient is the person"
                     + (" and the report is linked to our email" if linked else ""))
    return Match(None, "no failed recipient we emailed")
