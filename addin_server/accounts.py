"""Organisations, reps, API tokens (stored as SHA-256 hashes, shown once) and the link from an
external identity (a Google or Microsoft account) to a rep."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.models import ApiToken, Mailbox, Organisation, Person, Rep, Template

TOKEN_PREFIX = "as_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, rep: Rep, now: datetime, label: str = "") -> str:
    """A new API token for the rep; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(rep_id=rep.id, token_hash=hash_token(token), label=label,
                         created_at=now))
    return token


def rep_for_token(session: Session, token: str, now: datetime) -> Rep | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                               ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    row.last_used_at = now
    return session.get(Rep, row.rep_id)


def rep_for_session(session: Session, rep_id: object, version: object) -> Rep | None:
    """The rep a web session cookie names, if the cookie is of the rep's current session
    version (an older cookie was signed out: by sign-out, "sign out everywhere" or a role
    change)."""
    if not isinstance(rep_id, int) or isinstance(rep_id, bool) or not isinstance(version, int):
        return None
    rep = session.get(Rep, rep_id)
    if rep is None or rep.session_version != version:
        return None
    return rep


def end_sessions(rep: Rep) -> None:
    """Every web session of the rep ends (API tokens are not sessions: they stay)."""
    rep.session_version = (rep.session_version or 1) + 1


def set_admin(rep: Rep, admin: bool) -> None:
    """Change the rep's role; their web sessions end, so that no page keeps the old role."""
    if rep.is_admin != admin:
        rep.is_admin = admin
        end_sessions(rep)


# --- what a rep may see: their own people and templates; an admin, the organisation's -------


def may_see_person(rep: Rep, person: Person | None) -> bool:
    """A person of the rep's organisation that the rep owns (first enrolled), or any of the
    organisation's for an admin. A person nobody owns yet (made before owners were kept) is
    the admins' until a rep's launch claims it."""
    return (person is not None and person.org_id == rep.org_id
            and (rep.is_admin or person.owner_rep_id == rep.id))


def visible_people(rep: Rep) -> ColumnElement[bool]:
    """The SQL condition of may_see_person."""
    same_org = Person.org_id == rep.org_id
    return same_org if rep.is_admin else same_org & (Person.owner_rep_id == rep.id)


def may_see_template(rep: Rep, template: Template | None) -> bool:
    """A template the rep may use (in a step, in compose, in a preview): their own, one shared
    with the organisation, or any of the organisation's for an admin."""
    return (template is not None and template.org_id == rep.org_id
            and (rep.is_admin or template.rep_id == rep.id or template.shared))


def visible_templates(rep: Rep) -> ColumnElement[bool]:
    """The SQL condition of may_see_template."""
    same_org = Template.org_id == rep.org_id
    return same_org if rep.is_admin else same_org & ((Template.rep_id == rep.id)
                                                     | Template.shared.is_(True))


def may_manage_template(rep: Rep, template: Template) -> bool:
    """Change, share or delete it: admins any of the organisation's; a rep their own private
    ones (a shared template is the administrators' to manage; others only use it)."""
    return template.org_id == rep.org_id and (
        rep.is_admin or (template.rep_id == rep.id and not template.shared))


def rep_today(rep: Rep, now: datetime) -> date:
    """The rep's date at `now`, in the rep's time zone."""
    return now.astimezone(ZoneInfo(rep.timezone or "UTC")).date()


def get_or_create_org(session: Session, name: str, now: datetime) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, created_at=now)
        session.add(org)
        session.flush()
    return org


def create_rep(
    session: Session,
    *,
    email: str,
    org_name: str,
    now: datetime,
    timezone: str = "UTC",
    name: str = "",
    admin: bool = False,
    local_mailbox: bool = False,
) -> Rep:
    """A rep in an organisation (made if new). `local_mailbox` gives the rep the development
    mailbox, which keeps what it sends instead of mailing it."""
    org = get_or_create_org(session, org_name, now)
    if not org.signin_domains:
        # A new organisation owns its first rep's domain; `addin-server org-domains` changes it.
        set_org_domains(org, [email_domain(email)])
    rep = Rep(org_id=org.id, email=email.lower(), name=name, timezone=timezone,
              is_admin=admin, created_at=now)
    session.add(rep)
    session.flush()
    if local_mailbox:
        session.add(Mailbox(rep_id=rep.id, provider=MailboxProvider.LOCAL, address=rep.email,
                            status=MailboxStatus.CONNECTED, created_at=now, updated_at=now))
        session.flush()
    return rep


def demo_rep(session: Session, settings: Settings, now: datetime) -> Rep:
    """The demo rep of local development (made with the local development mailbox when
    missing): the web app's one-click development sign-in and `seed-demo` use it."""
    rep = session.scalar(select(Rep).where(Rep.email == settings.demo_rep_email.lower()))
    if rep is None:
        rep = create_rep(session, email=settings.demo_rep_email, org_name="Demo", now=now,
                         timezone="Europe/Paris", name="Demo Rep", local_mailbox=True)
    return rep


IdentityProvider = Literal["google", "microsoft"]


def email_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def org_domains(org: Organisation) -> set[str]:
    """The email domains the organisation owns (Organisation.signin_domains)."""
    return {d.strip().lower() for d in (org.signin_domains or "").split(",") if d.strip()}


def set_org_domains(org: Organisation, domains: Collection[str]) -> None:
    org.signin_domains = ",".join(sorted({d.strip().lower().lstrip("@") for d in domains
                                          if d.strip()}))


def edov_verified(claims: Mapping[str, Any]) -> bool:
    """Entra's optional claim `xms_edov` (the owner of the email's domain is verified), a
    boolean; some token versions carry it as a string."""
    return claims.get("xms_edov") in (True, 1, "true", "True", "1")


def rep_for_identity(
    session: Session, provider: IdentityProvider, subject: str, email: str, *,
    verified: bool, tenant: str = "", allowed_tenants: Collection[str] = (),
) -> Rep | None:
    """The rep behind an external identity whose token was checked (web sign-in, the Outlook
    pane, the Gmail add-on), or None. Fail closed:

    - Microsoft: only from a tenant in `allowed_tenants` (none allowed: nobody), also for a rep
      linked already. The link is by `oid` + `tid` (an oid is only unique in its tenant).
    - Google: only with a verified address (`email_verified`) at a domain of the rep's
      organisation, also for a rep linked already (the rule applies to every sign-in).
    - The first sign-in links the rep whose address is `email`, only when the address is
      verified (`verified`: Google's `email_verified`, Microsoft's `xms_edov`), its domain is
      one of the organisation's (Organisation.signin_domains) and the rep is linked to no
      other account of that provider: a link is never overwritten (addresses can be
      reassigned, subjects cannot). No rep is created here: an admin adds reps.
    """
    linked: ColumnElement[bool]
    if provider == "microsoft":
        if tenant.lower() not in {t.strip().lower() for t in allowed_tenants if t.strip()}:
            return None
        linked = (Rep.ms_oid == subject) & (Rep.ms_tid == tenant)
    else:
        linked = Rep.google_sub == subject
    rep = session.scalar(select(Rep).where(linked))
    if rep is not None:
        if provider == "google" and not _owned_address(rep, email, verified):
            return None
        return rep
    rep = session.scalar(select(Rep).where(Rep.email == email.strip().lower())) if email else None
    if rep is None or not _owned_address(rep, email, verified):
        return None
    if provider == "google":
        if rep.google_sub:
            return None
        rep.google_sub = subject
    else:
        if rep.ms_oid is not None:
            return None
        rep.ms_oid, rep.ms_tid = subject, tenant
    session.flush()
    return rep


def _owned_address(rep: Rep, email: str, verified: bool) -> bool:
    """A verified address at a domain of the rep's organisation."""
    return verified and bool(email) and email_domain(email) in org_domains(rep.org)
