"""Organisations, reps, API tokens (stored as SHA-256 hashes, shown once) and the link from an
external identity (a Google or Microsoft account) to a rep."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.models import ApiToken, Mailbox, Organisation, Rep

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


def rep_for_identity(
    session: Session, provider: IdentityProvider, subject: str, email: str, tenant: str = ""
) -> Rep | None:
    """The rep behind a verified external identity (web sign-in, the Outlook pane, the Gmail
    add-on): the rep linked to it, else (its first sign-in) the rep whose address is `email`
    and who is linked to no account of that provider, which is then linked to it.

    `subject` is Google's `sub` or Microsoft's `oid`; `tenant` is Microsoft's `tid` (an oid is
    only unique within its tenant). An address whose rep is linked to another account gives
    None: addresses can be reassigned, subjects cannot. No rep is created here: an admin adds
    reps to an organisation.
    """
    if provider == "google":
        linked = Rep.google_sub == subject
    else:
        linked = (Rep.ms_oid == subject) & (Rep.ms_tid == tenant)
    rep = session.scalar(select(Rep).where(linked))
    if rep is not None:
        return rep
    if not email:
        return None
    rep = session.scalar(select(Rep).where(Rep.email == email.lower()))
    if rep is None:
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
