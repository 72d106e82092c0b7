"""Push for reply detection, when configured: Gmail users.watch (Pub/Sub) and Graph change
notifications. A push only says "look now": it enqueues the mailbox's poll, which reads from
the stored cursor as usual, so a late, doubled or lost push changes nothing but latency (the
periodic poll stays the fallback).

`renew` runs after each poll (workers/polls.py): a Gmail watch is renewed a day before
it expires (Google: at least every 7 days), a Graph subscription likewise (its maximum life
without resource data is under 7 days; we ask for 3).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from addin_server.config import Settings
from addin_server.crypto import derive_key
from addin_server.db import session_scope
from addin_server.enums import MailboxProvider
from addin_server.mailboxes import open_inbox
from addin_server.mailboxes.gmail_inbox import GmailInbox, watch
from addin_server.mailboxes.graph_inbox import GraphInbox, subscribe
from addin_server.models import Mailbox as MailboxRow
from addin_server.runtime import Runtime

RENEW_BEFORE = timedelta(days=1)
GRAPH_LIFETIME = timedelta(days=3)


def client_state(settings: Settings, mailbox_id: int) -> str:
    """The secret a Graph notification must carry for this mailbox (not stored anywhere), from
    the "graph-client-state" key derived from SECRET_KEY."""
    key = derive_key(settings, "graph-client-state")
    return hmac.new(key, f"graph-push:{mailbox_id}".encode(), hashlib.sha256).hexdigest()[:48]


def legacy_client_state(settings: Settings, mailbox_id: int) -> str:
    """The clientState of subscriptions made before keys were derived per purpose (SECRET_KEY
    itself as the HMAC key). Renewing keeps a subscription's clientState, so such a
    notification only makes the mailbox subscribe again (webhooks.py); it proves nothing more."""
    digest = hmac.new(settings.secret_key.encode(), f"graph-push:{mailbox_id}".encode(),
                      hashlib.sha256)
    return digest.hexdigest()[:48]


def configured(rt: Runtime, provider: MailboxProvider) -> bool:
    s = rt.settings
    if provider == MailboxProvider.GMAIL:
        return bool(s.gmail_pubsub_topic)
    if provider == MailboxProvider.MICROSOFT:
        return bool(s.graph_notification_base_url)
    return False


def renew(rt: Runtime, mailbox_id: int) -> bool:
    """Create or renew the mailbox's push when it is configured and due; True if it did."""
    now = rt.now()
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        if row is None or not configured(rt, row.provider):
            return False
        if row.push_expires_at is not None and row.push_expires_at - RENEW_BEFORE > now:
            return False
        reader = open_inbox(rt, session, row)
        provider, push_id = row.provider, row.push_id
    push_id, expires = _renew_at_provider(rt, reader, provider, mailbox_id, push_id, now)
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        if row is not None:
            row.push_id, row.push_expires_at = push_id, expires
    return True


def _renew_at_provider(rt: Runtime, reader: object, provider: MailboxProvider,
                       mailbox_id: int, push_id: str | None, now: datetime
                       ) -> tuple[str | None, datetime]:
    if provider == MailboxProvider.GMAIL:
        assert isinstance(reader, GmailInbox)
        return None, watch(reader, rt.settings.gmail_pubsub_topic)

    assert isinstance(reader, GraphInbox)
    expires = now + GRAPH_LIFETIME
    new_id = subscribe(reader, url=f"{rt.settings.graph_notification_base_url}/push/graph",
                       client_state=client_state(rt.settings, mailbox_id),
                       expires=expires, push_id=push_id)
    return new_id, expires
