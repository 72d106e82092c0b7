"""String enums shared by the domain, the models and the API (pure: no framework imports)."""

from __future__ import annotations

from enum import StrEnum


class StepType(StrEnum):
    EMAIL = "email"
    CALL = "call"
    LINKEDIN = "linkedin"
    CUSTOM = "custom"


class SendOption(StrEnum):
    CHOOSE_AT_LAUNCH = "choose_at_launch"
    FIXED_TIME = "fixed_time"
    SAME_TIME_AS_PREVIOUS = "same_time_as_previous"
    MANUAL_TASK = "manual_task"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    REPLIED = "replied"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"


LIVE_ENROLLMENT = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


class SendState(StrEnum):
    """The outbox state machine.

    scheduled -> queued -> sending -> sent | failed | cancelled; `unknown` is an ambiguous
    outcome (crash, timeout, 5xx after the provider may have accepted it) that must be reconciled
    against the mailbox before anything is sent again; `held` waits for the rep (missing merge
    field) and goes back to `scheduled` when fixed.
    """

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    UNKNOWN = "unknown"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"
    CANCELLED = "cancelled"


PENDING_SEND = (SendState.SCHEDULED, SendState.QUEUED, SendState.HELD)
IN_FLIGHT_SEND = (SendState.SENDING, SendState.UNKNOWN)


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class CallOutcome(StrEnum):
    """What a call task ended with; Salesforce's CallDisposition takes the label."""

    CONNECTED = "connected"
    LEFT_VOICEMAIL = "left_voicemail"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    BUSY = "busy"


CALL_OUTCOME_LABELS = {
    CallOutcome.CONNECTED: "Connected",
    CallOutcome.LEFT_VOICEMAIL: "Left voicemail",
    CallOutcome.NO_ANSWER: "No answer",
    CallOutcome.WRONG_NUMBER: "Wrong number",
    CallOutcome.BUSY: "Busy",
}


class MailboxProvider(StrEnum):
    LOCAL = "local"
    GMAIL = "gmail"
    MICROSOFT = "microsoft"


class MailboxStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


# --- Salesforce sync (crm/) ---


class CrmStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class CrmLinkKind(StrEnum):
    """What a sync row mirrors: a task of ours, an email that went out, a reply we detected."""

    TASK = "task"
    SENT = "sent"
    REPLY = "reply"


class CrmLinkState(StrEnum):
    """pending (something to push) -> synced; `skipped` needs no push (no Contact or Lead to log
    on), `failed` was refused by Salesforce for good, `removed` was deleted in Salesforce."""

    PENDING = "pending"
    SYNCED = "synced"
    SKIPPED = "skipped"
    FAILED = "failed"
    REMOVED = "removed"
