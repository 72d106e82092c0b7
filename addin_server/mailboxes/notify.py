"""Tell a rep by email that their mailbox was disconnected (its sends are on hold until they
reconnect), through the operator's SMTP relay (SMTP_URL): the rep's own mailbox is the one that
cannot send. Once per disconnection; `notify_disconnected` is one of the dispatcher's periodic
duties (workers/duties.py).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from sqlalchemy import select, update

from addin_server.config import Settings
from addin_server.db import rowcount, session_scope
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.models import Mailbox, Rep
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

_CONNECT_PATH = {MailboxProvider.GMAIL: "google", MailboxProvider.MICROSOFT: "microsoft"}


def disconnect_email(settings: Settings, rep: Rep, mailbox: Mailbox) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = rep.email
    msg["Subject"] = f"Reconnect {mailbox.address}: your campaign emails are on hold"
    link = f"{settings.public_base_url}/connect/{_CONNECT_PATH.get(mailbox.provider, '')}"
    msg.set_content(
        f"Hello {rep.name or rep.email},\n\n"
        f"Campaign emails can no longer be sent from {mailbox.address}: the access you gave "
        f"has been revoked or has expired ({mailbox.status_reason or 'no reason given'}).\n\n"
        "Nothing is lost: the emails wait, and they go out as soon as you reconnect the "
        f"mailbox here:\n\n  {link}\n"
    )
    return msg


def send_smtp(settings: Settings, msg: EmailMessage, timeout: float = 30) -> None:
    url = urlparse(settings.smtp_url)
    host = url.hostname or "localhost"
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=timeout)
    else:
        client = smtplib.SMTP(host, url.port or 587, timeout=timeout)
    with client:
        if url.scheme != "smtps":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(msg)


def notify_disconnected(rt: Runtime, now: datetime) -> int:
    """Email the rep of every newly disconnected mailbox. Returns how many were told."""
    settings = rt.settings
    if not settings.smtp_url or not settings.mail_from:
        return 0
    with rt.sessions() as session:
        ids = list(session.scalars(select(Mailbox.id).where(
            Mailbox.status == MailboxStatus.DISCONNECTED,
            Mailbox.disconnect_notified_at.is_(None))))
    told = 0
    for mailbox_id in ids:
        with session_scope(rt.sessions) as session:
            # Claim first, so that two dispatchers do not both send it.
            claimed = rowcount(session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id, Mailbox.disconnect_notified_at.is_(None),
                       Mailbox.status == MailboxStatus.DISCONNECTED)
                .values(disconnect_notified_at=now)))
            mailbox = session.get(Mailbox, mailbox_id)
            rep = session.get(Rep, mailbox.rep_id) if mailbox else None
            message = disconnect_email(settings, rep, mailbox) if rep and mailbox else None
        if not claimed or message is None:
            continue
        try:
            send_smtp(settings, message)
            told += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("could not email the rep about mailbox %s: %s", mailbox_id, exc)
            with session_scope(rt.sessions) as session:  # try again at the next tick
                session.execute(update(Mailbox).where(
                    Mailbox.id == mailbox_id, Mailbox.disconnect_notified_at == now)
                    .values(disconnect_notified_at=None))
    return told
