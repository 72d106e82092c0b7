"""The Mailbox port: what the send pipeline needs from Gmail, Microsoft Graph or the local
development mailbox.

Sending is two calls (create a draft, send it) so that the pipeline can record the draft before
the call that sends: a consumed draft cannot be sent twice, and a send whose outcome is unknown
is looked up in Sent items by our fixed header before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Protocol, runtime_checkable

# One fixed header on every message we send, carrying the send row's id. Fixed name: Exchange
# limits how many distinct named properties a mailbox may hold.
SEND_ID_HEADER = "X-Campaign-Send-Id"


# What the product allows per email, attachments together (their bytes, before the base64 of
# the MIME): Gmail's limit is 25 MB; Graph takes up to 150 MB through upload sessions, but the
# same email must go out from either provider, so both are capped at Gmail's. Decimal MB: once
# base64-encoded (x 4/3, plus line ends) the message stays under 35,000,000 bytes, the default
# message limit of Exchange Online and below Gmail's 36,700,160-byte upload limit.
MAX_ATTACHMENTS_BYTES = 25_000_000
MAX_ATTACHMENTS_MB = MAX_ATTACHMENTS_BYTES // 1_000_000


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    content_type: str  # "type/subtype"
    data: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """An email ready to go, provider-neutral."""

    send_id: str  # our send row id (string), written into SEND_ID_HEADER
    from_addr: str
    from_name: str
    to_addr: str
    subject: str
    html: str
    text: str
    # Threading, when the email replies to an earlier one that we sent to this person.
    in_reply_to: str | None = None  # RFC Message-ID with angle brackets
    references: str = ""  # the whole chain, space separated, angle brackets
    thread_id: str | None = None  # Gmail threadId / Graph conversationId of the earlier email
    reply_to_provider_id: str | None = None  # the earlier email's provider id (same mailbox)
    reply_to_sent_at: datetime | None = None  # when the earlier email went out
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    cc: tuple[str, ...] = ()
    # Delivered to, never shown to the To/Cc recipients (the providers drop the header from
    # what they deliver; the sender's own copy keeps it).
    bcc: tuple[str, ...] = ()
    attachments: tuple[FileAttachment, ...] = ()


@dataclass(frozen=True)
class DraftRef:
    """A created draft, recorded before it is sent."""

    draft_id: str
    message_id: str | None = None  # provider message id of the draft, when known
    rfc_message_id: str | None = None  # Graph assigns it at creation; Gmail may replace ours
    thread_id: str | None = None


@dataclass(frozen=True)
class SentRef:
    """What the provider says about a message that went out (read back after the send)."""

    message_id: str  # provider id (Gmail message id, Graph immutable id, local id)
    thread_id: str | None
    rfc_message_id: str | None  # the real Message-ID, with angle brackets
    sent_at: datetime | None = None


@dataclass(frozen=True)
class SentItem:
    """A message from the rep's Sent items, provider-neutral (what completes an email task the
    rep wrote in Gmail or Outlook themselves)."""

    message_id: str  # provider id (Gmail message id, Graph message id)
    to: tuple[str, ...]
    subject: str
    sent_at: datetime
    thread_id: str | None = None  # Gmail threadId / Graph conversationId
    rfc_message_id: str | None = None  # the Message-ID, with angle brackets
    body_html: str = ""  # empty when the grant cannot read bodies


class MailboxError(Exception):
    """Base of the classified provider failures below. `status` is the provider's HTTP status
    when it answered (None: no answer, or a failure before any call)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TransientError(MailboxError):
    """Try again later (429, 5xx, timeout) — but see `may_have_sent`."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, may_have_sent: bool = False,
        status: int | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after, status=status)
        # True when the provider may have accepted the message (timeout or 5xx on the send
        # call): the pipeline must reconcile against Sent items before sending again.
        self.may_have_sent = may_have_sent


class PermanentError(MailboxError):
    """The provider refused this message for good (bad recipient, message too large)."""


class AuthError(MailboxError):
    """The grant is revoked or expired: the mailbox must be reconnected by the rep."""


class PreviousNotReady(MailboxError):
    """A reply step's previous email is not readable in the mailbox yet (Graph files it in
    Sent Items asynchronously): wait `retry_after` seconds, without using an attempt."""


class SenderRefused(MailboxError):
    """The provider refused to send anything from this mailbox (Microsoft's restricted
    senders, `5.1.8 Access denied, bad outbound sender`): about the sender, not the recipient;
    never a bounce. The message text carries the provider's words (guard/rules.hard_stop)."""


class MailboxPaused(MailboxError):
    """The provider paused sending for this mailbox until a time (Gmail's sending limit)."""

    def __init__(self, message: str, *, until: datetime, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.until = until


# Reading the inbox (reply detection). The headers that classification and matching read
# (Gmail's metadata format asks for them by name).
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
           "Auto-Submitted", "X-Autoreply", "X-Autorespond", "X-Autoresponder", "Precedence",
           "X-Failed-Recipients", "Content-Type", "X-Auto-Response-Suppress",
           "X-Campaign-Send-Id"]


@dataclass(frozen=True)
class FetchedMessage:
    provider_id: str
    thread_id: str | None
    message: Message  # headers, and as much of the text as the provider gives
    received_at: datetime | None = None


@dataclass(frozen=True)
class Changes:
    messages: list[FetchedMessage]
    cursor: str


class CursorExpired(Exception):
    """The provider no longer knows the stored cursor (Gmail 404, Graph 410)."""


class InboxReader(Protocol):
    def changes(self, cursor: str) -> Changes:
        """Inbox messages added since `cursor`, and the cursor to store after them."""
        ...

    def fresh_cursor(self) -> str:
        """A cursor for "from now on"."""
        ...

    def thread_messages(self, thread_id: str) -> list[FetchedMessage]:
        """The messages of one thread / conversation (our own included)."""
        ...


class Mailbox(Protocol):
    """A rep's mailbox. Implementations: local (development), Gmail, Microsoft Graph."""

    address: str

    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        """Create the message as a draft (in the earlier message's thread for a reply)."""
        ...

    def send_draft(self, draft: DraftRef) -> SentRef:
        """Send a draft; must not be retried by the client. Returns the real ids."""
        ...

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        """The message carrying our send-id header in Sent items, if it went out."""
        ...

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        """Some headers of a message, by provider id."""
        ...


@runtime_checkable
class SentReader(Protocol):
    """A mailbox whose Sent items can be listed (Gmail and Microsoft Graph; not the local
    development mailbox)."""

    def sent_items(self, since: datetime) -> list[SentItem]:
        """Messages sent at or after `since`, newest first (a bounded number)."""
        ...


class UnavailableMailbox:
    """A mailbox that could not be opened (no stored grant, the sign-in service unreachable):
    every call raises the classified error, so that the pipeline handles it exactly like a
    failure of the call itself (a held send, a retry) instead of a crash while opening."""

    def __init__(self, address: str, error: MailboxError) -> None:
        self.address = address
        self.error = error

    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        raise self.error

    def send_draft(self, draft: DraftRef) -> SentRef:
        raise self.error

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        raise self.error

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        raise self.error

    def vacation(self) -> Vacation:
        raise self.error


@dataclass(frozen=True)
class Vacation:
    """The rep's vacation responder (Gmail's VacationSettings, Graph's
    automaticRepliesSetting): on or off, and the times it applies between (either may be
    open: on with no end means "until it is turned off")."""

    on: bool
    start: datetime | None = None
    end: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.on and (self.start is None or self.start <= now) and (
            self.end is None or now < self.end)


@runtime_checkable
class VacationReader(Protocol):
    """A mailbox whose vacation responder can be read (it needs one more scope: Gmail's
    gmail.settings.basic, Graph's MailboxSettings.Read). A missing scope raises AuthError:
    the rep must reconnect to grant it."""

    def vacation(self) -> Vacation: ...
