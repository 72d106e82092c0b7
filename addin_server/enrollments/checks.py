"""Checks before anything is sent: what a launch warns about, each with the person and step.

- a merge field an email step needs that the person lacks (else found only on the send day,
  as a held email);
- an address at one of the organisation's own domains (a colleague);
- an address whose domain has no MX record (only when the rep asks: a DNS lookup per domain);
- a person already active in another campaign of the organisation: launch.py enrols them with
  a warning, or skips them when the campaign says so (`skip_if_active_elsewhere`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.exception
import dns.resolver
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.accounts import org_domains
from addin_server.campaigns import templates
from addin_server.db import among, chunk_size
from addin_server.enums import LIVE_ENROLLMENT, StepType
from addin_server.models import Campaign, Enrollment, Mailbox, Organisation, Person, Rep, Step

MxCheck = Callable[[str], bool]  # domain -> has an MX (or, per RFC 5321, an address) record

# Merge fields every person has whatever their row says (rendering.merge_values).
ALWAYS_THERE = frozenset({"email", "sender_name", "sender_email", "unsubscribe_link"})
PERSON_COLUMNS = ("first_name", "last_name", "company", "title")


@dataclass(frozen=True)
class Warning:
    email: str
    position: int | None  # the step it concerns (0-based), None for the person as a whole
    code: str  # missing_field, colleague, no_mx, active_elsewhere
    message: str


def needed_fields(step: Step) -> set[str]:
    """The merge fields of an email step with no default: a person without them is held."""
    if step.type != StepType.EMAIL:
        return set()
    subject, body = (step.template.subject, step.template.body_html) if step.template \
        else (step.subject, step.body_html)
    texts = [body] if step.reply_to_previous else [subject, body]
    return {name for text in texts for name in templates.required_fields(text or "")
            } - ALWAYS_THERE


def missing_fields(session: Session, campaign: Campaign, people: dict[str, int],
                   given: dict[str, dict[str, str]]) -> list[Warning]:
    """Per person and email step, the needed fields that neither this launch nor the person's
    row fills. `people` is email -> person id, `given` email -> the values this launch gives."""
    needs = [(s.position, needed_fields(s)) for s in campaign.steps]
    needs = [(p, n) for p, n in needs if n]
    if not needs:
        return []
    everything = set().union(*(n for _, n in needs))
    # Only people this launch leaves short are looked up: their row may hold the value.
    short = [e for e, values in given.items() if everything - _filled(values)]
    stored: dict[str, set[str]] = {}
    for chunk in _chunks([people[e] for e in short], chunk_size(session)):
        for email, first, last, company, title, fields in session.execute(select(
                Person.email, Person.first_name, Person.last_name, Person.company, Person.title,
                Person.fields).where(among(session, Person.id, chunk))):
            row = dict(zip(PERSON_COLUMNS, (first, last, company, title), strict=True))
            row.update({str(k).lower(): str(v) for k, v in (fields or {}).items() if v})
            stored[email] = _filled(row)
    out = []
    for email in short:
        have = _filled(given[email]) | stored.get(email, set())
        for position, need in needs:
            lacking = sorted(need - have)
            if lacking:
                out.append(Warning(email, position, "missing_field",
                                   f"step {position + 1} uses {', '.join(lacking)}, which "
                                   "this person lacks: the email would be held"))
    return out


def _filled(values: dict[str, str]) -> set[str]:
    return {k for k, v in values.items() if v and v.strip()}


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def own_domains(session: Session, org_id: int) -> set[str]:
    """The organisation's own domains: those it declared (the sign-in domains, set on the
    organisation's settings page) and those of its reps' addresses and mailboxes."""
    addresses = list(session.scalars(select(Rep.email).where(Rep.org_id == org_id)))
    addresses += session.scalars(select(Mailbox.address).join(Rep, Rep.id == Mailbox.rep_id)
                                 .where(Rep.org_id == org_id))
    org = session.get(Organisation, org_id)
    declared = org_domains(org) if org is not None else set()
    return declared | {a.rsplit("@", 1)[1].lower() for a in addresses if "@" in a}


def colleagues(emails: Iterable[str], domains: set[str]) -> list[Warning]:
    return [Warning(e, None, "colleague", f"{e.rsplit('@', 1)[1]} is one of your "
                    "organisation's own domains: this is a colleague") for e in emails
            if e.rsplit("@", 1)[1] in domains]


def no_mx(emails: Iterable[str], has_mx: MxCheck) -> list[Warning]:
    """One lookup per distinct domain."""
    verdict: dict[str, bool] = {}
    out = []
    for e in emails:
        domain = e.rsplit("@", 1)[1]
        if domain not in verdict:
            verdict[domain] = has_mx(domain)
        if not verdict[domain]:
            out.append(Warning(e, None, "no_mx", f"{domain} has no MX record: the email "
                               "would bounce"))
    return out


def active_elsewhere(session: Session, campaign: Campaign, person_ids: dict[str, int]
                     ) -> dict[str, str]:
    """email -> the name of another campaign of the organisation the person is live in."""
    by_id = {pid: email for email, pid in person_ids.items()}
    out: dict[str, str] = {}
    for chunk in _chunks(list(by_id), chunk_size(session)):
        for pid, name in session.execute(
            select(Enrollment.person_id, Campaign.name)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .where(Enrollment.org_id == campaign.org_id, Enrollment.campaign_id != campaign.id,
                   Enrollment.status.in_(LIVE_ENROLLMENT), among(session, Enrollment.person_id,
                                                                 chunk))):
            out.setdefault(by_id[pid], name)
    return out


def dns_mx_check(nameservers: tuple[str, ...], timeout: float) -> MxCheck:
    """An MX check through dnspython: the given name servers ("host:port"), else the system's."""
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = [n.rsplit(":", 1)[0] if ":" in n else n for n in nameservers]
        ports = {n.rsplit(":", 1)[1] for n in nameservers if ":" in n}
        if ports:
            resolver.port = int(ports.pop())
    resolver.lifetime = timeout

    def has_mx(domain: str) -> bool:
        try:
            resolver.resolve(domain, "MX")
            return True
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            pass
        except dns.exception.DNSException:
            return True  # a lookup that fails says nothing: no warning rather than a false one
        try:  # RFC 5321 5.1: no MX means the domain's own address record receives mail
            resolver.resolve(domain, "A")
            return True
        except dns.exception.DNSException:
            return False
    return has_mx
