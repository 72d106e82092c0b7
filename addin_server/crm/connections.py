"""A rep's Salesforce connection: saved from the OAuth callback, opened as a `Crm` client,
marked disconnected when the grant is gone (and said so in the Live Feed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addin_server import crypto, feed
from addin_server.crm import outbox
from addin_server.crm import records as rules
from addin_server.crm.port import Crm, CrmAuthError, CrmError, CrmLimitError, CrmPermanentError
from addin_server.crm.salesforce import SalesforceCrm, Tokens, refresh_tokens
from addin_server.db import rowcount, session_scope
from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus, TaskStatus
from addin_server.models import CrmConnection, CrmLink, Rep, Task
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)


class OtherOrg(Exception):
    """The rep connected a different Salesforce org than the one their records live in."""


def save_connection(
    session: Session, runtime: Runtime, rep: Rep, tokens: Tokens, login_url: str,
    now: datetime,
) -> CrmConnection:
    """Store a fresh grant (first connect or reconnect); pending sync work resumes."""
    settings = runtime.settings
    if not tokens.refresh_token:
        raise CrmPermanentError("Salesforce gave no refresh token: the connected app needs the "
                                "refresh_token scope", "no_refresh_token")
    conn = session.scalar(select(CrmConnection).where(CrmConnection.rep_id == rep.id))
    if conn is not None and conn.sf_org_id and conn.sf_org_id != tokens.org_id:
        raise OtherOrg(conn.sf_org_id)
    reconnect = conn is not None
    if conn is None:
        conn = CrmConnection(org_id=rep.org_id, rep_id=rep.id, activity_since=now,
                             created_at=now, login_url=login_url,
                             instance_url=tokens.instance_url)
        session.add(conn)
    conn.status = CrmStatus.CONNECTED
    conn.status_reason = ""
    conn.login_url = login_url
    conn.instance_url = tokens.instance_url
    conn.identity_url = tokens.identity_url
    conn.sf_org_id = tokens.org_id
    conn.sf_user_id = tokens.user_id
    conn.refresh_token = crypto.encrypt(settings, tokens.refresh_token)
    conn.access_token = crypto.encrypt(settings, tokens.access_token)
    conn.key_mode = None  # described again: the admin may have added the field meanwhile
    conn.hold_until = None
    conn.updated_at = now
    session.flush()
    feed.record(session, org_id=rep.org_id, type=feed.CRM_CONNECTED, at=now, rep_id=rep.id,
                crm="salesforce", reconnected=reconnect, instance_url=tokens.instance_url)
    if not reconnect:
        _skip_history(session, rep.id, now)
    outbox.request_batch(session, conn.id)
    return conn


def _skip_history(session: Session, rep_id: int, now: datetime) -> None:
    """On a rep's first connect (their organisation had Salesforce already, so rows waited for
    them), push their open tasks but not what was over before: as the original product, sync
    starts when the rep turns it on."""
    reason = "before the rep connected Salesforce"
    waiting = (CrmLink.rep_id == rep_id, CrmLink.state == CrmLinkState.PENDING)
    session.execute(
        update(CrmLink).where(*waiting, CrmLink.kind.in_([CrmLinkKind.SENT, CrmLinkKind.REPLY]))
        .values(state=CrmLinkState.SKIPPED, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False))
    closed = select(Task.id).where(Task.rep_id == rep_id, Task.status != TaskStatus.OPEN)
    session.execute(
        update(CrmLink).where(*waiting, CrmLink.kind == CrmLinkKind.TASK,
                              CrmLink.local_id.in_(closed))
        .values(state=CrmLinkState.SKIPPED, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False))


def disconnect(session: Session, conn: CrmConnection, reason: str, now: datetime) -> bool:
    """Mark the connection disconnected (once) and tell the rep; sync work waits for them."""
    changed = rowcount(session.execute(
        update(CrmConnection)
        .where(CrmConnection.id == conn.id, CrmConnection.status == CrmStatus.CONNECTED)
        .values(status=CrmStatus.DISCONNECTED, status_reason=reason, access_token=None,
                refresh_token=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    session.refresh(conn)
    if changed:
        feed.record(session, org_id=conn.org_id, type=feed.CRM_DISCONNECTED, at=now,
                    rep_id=conn.rep_id, crm="salesforce", reason=reason)
    return bool(changed)


@dataclass
class Reading:
    """The last Sforce-Limit-Info reading of a client, saved by the sync."""

    used: int | None = None
    limit: int | None = None
    calls: int = 0

    def __call__(self, used: int, limit: int) -> None:
        self.used, self.limit = used, limit
        self.calls += 1


def open_crm(runtime: Runtime, conn: CrmConnection, reading: Reading,
             http: requests.Session | None = None) -> SalesforceCrm:
    """The Salesforce client of a connection. A refreshed access token is saved at once (in
    its own transaction), so that other jobs use it too."""
    settings = runtime.settings
    if conn.status != CrmStatus.CONNECTED or conn.refresh_token is None:
        raise CrmAuthError(conn.status_reason or "not connected")
    http = http or requests.Session()
    refresh_token = crypto.decrypt(settings, conn.refresh_token)
    access = crypto.decrypt(settings, conn.access_token) if conn.access_token else "expired"
    conn_id = conn.id

    grant = {"refresh_token": refresh_token}

    def call() -> Tokens:
        return refresh_tokens(
            http, conn.login_url, client_id=settings.salesforce_client_id,
            client_secret=settings.salesforce_client_secret,
            refresh_token=grant["refresh_token"], timeout=settings.salesforce_timeout)

    def refresh() -> str:
        try:
            tokens = call()
        except CrmAuthError:
            # With rotating refresh tokens another job may have just replaced ours: use the
            # stored one if it changed; only a refusal of the newest grant disconnects.
            with session_scope(runtime.sessions) as s:
                stored = s.scalar(select(CrmConnection.refresh_token)
                                  .where(CrmConnection.id == conn_id))
            newest = crypto.decrypt(settings, stored) if stored else None
            if newest is None or newest == grant["refresh_token"]:
                raise
            grant["refresh_token"] = newest
            tokens = call()
        with session_scope(runtime.sessions) as s:
            values: dict[str, object] = {
                "access_token": crypto.encrypt(settings, tokens.access_token),
                "updated_at": runtime.now()}
            if tokens.refresh_token:  # the connected app rotates refresh tokens
                values["refresh_token"] = crypto.encrypt(settings, tokens.refresh_token)
                grant["refresh_token"] = tokens.refresh_token
            s.execute(update(CrmConnection).where(CrmConnection.id == conn_id).values(**values))
        return tokens.access_token

    return SalesforceCrm(
        instance_url=conn.instance_url, api_version=settings.salesforce_api_version,
        access_token=access, refresh=refresh, on_usage=reading,
        timeout=settings.salesforce_timeout, http=http,
    )


CrmOpener = Callable[[Runtime, CrmConnection, Reading], Crm]


def default_opener(runtime: Runtime, conn: CrmConnection, reading: Reading) -> Crm:
    """How the sync gets a client (tests pass another opener to wrap the real one)."""
    return open_crm(runtime, conn, reading)


def save_reading(session: Session, conn: CrmConnection, reading: Reading, now: datetime) -> None:
    """Keep the allocation reading on every connection to the same Salesforce org."""
    if reading.used is None or reading.limit is None:
        return
    session.execute(
        update(CrmConnection)
        .where(CrmConnection.sf_org_id == conn.sf_org_id)
        .values(api_used=reading.used, api_limit=reading.limit, api_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    conn.api_used, conn.api_limit, conn.api_seen_at = reading.used, reading.limit, now


def error_code(failure: CrmError) -> str:
    """Salesforce's error code, or the kind of failure when it gave none (a timeout)."""
    return failure.code or type(failure).__name__


def note_failure(session: Session, conn: CrmConnection, failure: CrmError, now: datetime, *,
                 what: str, rows: Sequence[int] = ()) -> None:
    """Say what failed: log Salesforce's error code and the sync rows concerned (the message is
    Salesforce's or ours, never a token), keep it as the connection's last error (the status
    page shows it), and act on it: a refused grant disconnects, REQUEST_LIMIT_EXCEEDED holds
    the connection (pushes and pulls alike) for LIMIT_EXCEEDED_WAIT."""
    code = error_code(failure)
    shown = ", ".join(str(r) for r in rows[:50]) + (", ..." if len(rows) > 50 else "")
    log.warning("CRM %s for connection %s failed: %s: %s (rows: %s)", what, conn.id, code,
                failure, shown or "none")
    if isinstance(failure, CrmAuthError):  # first: it reloads the row
        disconnect(session, conn, f"Salesforce refused the connection: {failure}", now)
    elif isinstance(failure, CrmLimitError):
        conn.hold_until = now + rules.LIMIT_EXCEEDED_WAIT
    conn.last_error_code = code[:64]
    conn.last_error = (f"{what}: {failure}" + (f" (rows {shown})" if shown else ""))[:2000]
    conn.last_error_at = now
