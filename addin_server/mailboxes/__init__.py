"""Mailbox adapters behind one Protocol (port.py). `open_mailbox` picks the adapter for a row;
`open_inbox` gives the reader of its inbox.

Each provider module registers a factory in PROVIDERS; tests and benchmarks can name another
factory with the MAILBOX_FACTORY setting ("module:function"), which the workers honour too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from addin_server.mailboxes.gmail import GmailMailbox
from addin_server.mailboxes.gmail_inbox import GmailInbox
from addin_server.mailboxes.graph import GraphMailbox
from addin_server.mailboxes.graph_inbox import GraphInbox
from addin_server.mailboxes.local import LocalInbox, LocalMailbox
from addin_server.mailboxes.port import InboxReader, Mailbox

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from addin_server.models import Mailbox as MailboxRow
    from addin_server.runtime import Runtime

Factory = Callable[["Runtime", "Session", "MailboxRow"], Mailbox]

PROVIDERS: dict[str, str] = {
    # provider value -> "module:function" building the adapter
    "local": "addin_server.mailboxes.local:open_local",
    "gmail": "addin_server.mailboxes.gmail:open_gmail",
    "microsoft": "addin_server.mailboxes.graph:open_microsoft",
}


def open_mailbox(runtime: Runtime, session: Session, row: MailboxRow) -> Mailbox:
    target = runtime.settings.mailbox_factory or PROVIDERS.get(row.provider.value)
    if not target:
        raise LookupError(f"no mailbox adapter for provider {row.provider.value!r}")
    module, _, name = target.partition(":")
    factory: Factory = getattr(importlib.import_module(module), name)
    return factory(runtime, session, row)


def open_inbox(runtime: Runtime, session: Session, row: MailboxRow) -> InboxReader | None:
    """The inbox reader of a mailbox: Gmail, Microsoft, or the local development mailbox (what
    DEV_MODE's simulated replies arrive in); None for an adapter named by MAILBOX_FACTORY that is
    none of them, as in the send benchmarks."""
    mailbox = open_mailbox(runtime, session, row)
    if isinstance(mailbox, LocalMailbox):
        return LocalInbox(mailbox)
    if isinstance(mailbox, GmailMailbox):
        return GmailInbox(mailbox)
    if isinstance(mailbox, GraphMailbox):
        return GraphInbox(mailbox)
    return None
