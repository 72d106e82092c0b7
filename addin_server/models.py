"""Typed SQLAlchemy 2.0 models. SQL is the truth: every future send and task is a row here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addin_server.db import Base, utcnow
from addin_server.enums import (
    CrmLinkKind,
    CrmLinkState,
    CrmStatus,
    EnrollmentStatus,
    MailboxProvider,
    MailboxStatus,
    SendOption,
    SendState,
    StepType,
    TaskStatus,
)


def _enum(cls: type[Any], name: str) -> Enum:
    # Stored as their string values; no native PG enum so migrations stay simple.
    return Enum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The email domains the organisation owns, comma separated ("acme.com,acme.co.uk"): a
    # Google or Microsoft account is linked to a rep only at one of these (accounts.py).
    signin_domains: Mapped[str] = mapped_column(Text, default="")
    # The organisation's settings (campaigns/org_settings.py): default time zone, working
    # days, holiday countries and stop rules that new campaigns start from, and who may launch
    # people on a colleague's campaign. Only keys an admin set are stored.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deliverability settings (admins; docs/deliverability.md). At the bulk-sender line
    # (guard/meter.py), hold automatic first emails to that consumer provider until the next
    # day; else only warn.
    bulk_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    # Read each rep's vacation responder (one more OAuth scope: asked for at connect only when
    # on); while it is on, the rep's automatic emails and due tasks wait (absence_hold) or go on.
    read_absence: Mapped[bool] = mapped_column(Boolean, default=False)
    absence_hold: Mapped[bool] = mapped_column(Boolean, default=True)


class Rep(Base):
    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Identities in the add-ins: Microsoft object id + tenant id, Google subject.
    ms_oid: Mapped[str | None] = mapped_column(String(64))
    ms_tid: Mapped[str | None] = mapped_column(String(64))
    google_sub: Mapped[str | None] = mapped_column(String(64))
    # Carried in the web session cookie and checked on every request: sign-out, "sign out
    # everywhere" and a role change bump it, so every older cookie stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # Added below the body of every email the rep sends through us (automatic and manual),
    # above the quoted previous email. Sanitised HTML, merge fields allowed.
    signature_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[Organisation] = relationship()


class ApiToken(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Mailbox(Base):
    """The rep's own mailbox that automatic emails go out from."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    provider: Mapped[MailboxProvider] = mapped_column(_enum(MailboxProvider, "mailbox_provider"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[MailboxStatus] = mapped_column(
        _enum(MailboxStatus, "mailbox_status"), default=MailboxStatus.CONNECTED
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    # A provider's 429 that names a time pauses the mailbox until then.
    paused_until: Mapped[datetime | None]
    # Encrypted (Fernet) refresh token or msal token cache; never logged.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Reply detection cursor: Gmail history id or Graph delta link.
    sync_cursor: Mapped[str | None] = mapped_column(Text)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    min_gap_seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Mailboxes part: when the rep was emailed that this mailbox is disconnected (once per
    # disconnection; a reconnect clears it).
    disconnect_notified_at: Mapped[datetime | None]
    # Pacing (replies/caps part): after `batch_size` sends in a row, wait `batch_wait_seconds`.
    batch_size: Mapped[int | None] = mapped_column(Integer)
    batch_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Push for reply detection (Gmail users.watch / Graph subscription), when configured.
    push_id: Mapped[str | None] = mapped_column(String(200))
    push_expires_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]  # last reply poll
    # Since when it is disconnected (the mailbox report); cleared on reconnect.
    disconnected_at: Mapped[datetime | None]
    # Deliverability guard (guard/breakers.py): a tripped bounce breaker pauses the mailbox's
    # automatic emails until a person releases it (or the cooling-off time runs out). The reason
    # is shown wherever a send says why it waits; the scope is "mailbox" or "domain".
    guard_reason: Mapped[str] = mapped_column(Text, default="")
    guard_scope: Mapped[str] = mapped_column(String(16), default="")
    guard_tripped_at: Mapped[datetime | None]
    guard_notified_at: Mapped[datetime | None]  # the rep and admins were emailed
    # Bounces before a release no longer count (else the breaker trips again at once).
    guard_released_at: Mapped[datetime | None]
    # What to fix on the sending domain, when a provider refused our mail for its
    # authentication (5.7.515, 5.7.26, 4.7.32): shown on the Mailboxes page.
    guard_warning: Mapped[str] = mapped_column(Text, default="")
    # Ramp-up of a newly connected mailbox: its cap on day n (0 = the day it was connected) is
    # ramp_first + n * ramp_step, up to daily_cap. Null ramp_start: no ramp (older mailboxes).
    ramp_start: Mapped[date | None]
    ramp_first: Mapped[int] = mapped_column(Integer, default=0)
    ramp_step: Mapped[int] = mapped_column(Integer, default=0)
    # The rep's vacation responder as last read (guard/absence.py), when the organisation reads
    # it: on, from, until (either end may be open). `away_hold` copies the organisation's
    # "wait" setting, so that the send path needs no join to know whether it holds.
    away_on: Mapped[bool] = mapped_column(Boolean, default=False)
    away_start: Mapped[datetime | None]
    away_end: Mapped[datetime | None]
    away_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    away_checked_at: Mapped[datetime | None]
    away_error: Mapped[str] = mapped_column(Text, default="")  # e.g. the scope is missing


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    # Shared with the organisation: every rep may use it (in a step, in compose); only admins
    # change or delete it (accounts.may_manage_template). Private ones are their rep's.
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[Rep] = relationship()


class Snippet(Base):
    """A saved piece of text (merge fields allowed) the rep inserts while composing: private to
    its rep, or shared with the organisation."""

    __tablename__ = "snippets"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    body_html: Mapped[str] = mapped_column(Text, default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attachment(Base):
    """A file the rep attached in compose. Its bytes stay here until the email is sent (and
    after, so that a retry or a reconciliation never finds them gone); `send_id` is set when
    the email is handed to the outbox."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    skip_weekends: Mapped[bool] = mapped_column(Boolean, default=True)
    stop_on_reply: Mapped[bool] = mapped_column(Boolean, default=True)
    mark_success_on_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    remove_on_bounce: Mapped[bool] = mapped_column(Boolean, default=True)
    use_recipient_timezone: Mapped[bool] = mapped_column(Boolean, default=False)
    # Later settings (sending window, holidays, company-domain replies) live here as JSON.
    extra_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The campaign's bounce breaker (guard/breakers.py): while set, no new person is started
    # (first emails wait); people already emailed go on.
    guard_reason: Mapped[str] = mapped_column(Text, default="")
    guard_tripped_at: Mapped[datetime | None]
    guard_notified_at: Mapped[datetime | None]
    guard_released_at: Mapped[datetime | None]

    steps: Mapped[list[Step]] = relationship(
        order_by="Step.position", cascade="all, delete-orphan", back_populates="campaign"
    )


class Step(Base):
    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    position: Mapped[int] = mapped_column(Integer)  # 0-based
    day: Mapped[int] = mapped_column(Integer)  # 1-based campaign day
    type: Mapped[StepType] = mapped_column(_enum(StepType, "step_type"))
    send_option: Mapped[SendOption | None] = mapped_column(_enum(SendOption, "send_option"))
    send_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM", local
    reply_to_previous: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    instructions: Mapped[str] = mapped_column(Text, default="")
    # Copied on every automatic email of the step (lower-case addresses).
    cc: Mapped[list[str] | None] = mapped_column(JSON)  # None: none
    bcc: Mapped[list[str] | None] = mapped_column(JSON)

    campaign: Mapped[Campaign] = relationship(back_populates="steps")
    template: Mapped[Template | None] = relationship()


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str] = mapped_column(String(320))  # lower case
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unsubscribed_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    # The rep who first enrolled the person: only they (and admins) see the person and change
    # their fields; another rep's launch skips them (accounts.may_see_person, docs/api.md).
    owner_rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrollment(Base):
    """One person in one campaign. At most one live (active or paused) per person and campaign."""

    __tablename__ = "enrollments"
    __table_args__ = (
        Index(
            "uq_enrollment_live",
            "campaign_id",
            "person_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        # The dispatcher's out-of-office resume looks for paused enrollments whose pause ran
        # out at every full pass: without this it read the whole table (130 ms at 1,000,000).
        # Not a partial index: the status arrives as a bound parameter, and a generic plan of
        # a prepared statement cannot prove a partial index's predicate from one.
        Index("ix_enrollments_status_paused_until", "status", "paused_until"),
        # The campaign report counts a campaign's paused people (and those out of office)
        # on this index alone (reports/campaign.py).
        Index("ix_enrollments_report", "campaign_id", "status", "rep_id", "paused_until"),
        # The rep's People list (live ones, or every one), newest change first, paged and
        # counted on this index.
        Index("ix_enrollments_rep_status_updated", "rep_id", "status", "updated_at", "id"),
        # A campaign's people by id, a page at a time (GET /campaigns/{id}/enrollments).
        Index("ix_enrollments_campaign_id_id", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # (indexed with the id: ix_enrollments_campaign_id_id)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    start_date: Mapped[date] = mapped_column(Date)
    first_send_at: Mapped[datetime | None]
    # The step in progress (0-based); None once every step is done.
    current_position: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32), default="")  # "success" on a marked reply
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The report's funnel (tallies.py): the first real reply (not an automatic one), a bounce
    # (which outranks an earlier reply), an unsubscribe, even after the enrollment ended;
    # emailed_at is the first email that went out (the reply rate's denominator).
    emailed_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()
    campaign: Mapped[Campaign] = relationship()


class Send(Base):
    """The outbox: one automatic email (or an email task the rep sent through us)."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "position"),
        Index("ix_sends_state_due", "state", "due_at"),
        # Pacing reads a mailbox's sends in flight and sent since yesterday at every pass
        # with something due: by mailbox alone that walked all its future sends (60 ms each
        # at 1,000,000). Also serves every lookup by mailbox.
        Index("ix_sends_mailbox_state_sent", "mailbox_id", "state", "sent_at"),
        # The rep's Emails tabs and GET /sends: each state's page in due order and its true
        # count from the index alone (PostgreSQL also reads the mailbox and enrollment from it,
        # which is what "waiting" vs "scheduled" turns on), at 1,000,000 sends.
        Index("ix_sends_rep_state_due", "rep_id", "state", "due_at", "id",
              postgresql_include=["mailbox_id", "enrollment_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    # The enrollment's rep, copied when the row is made (an enrollment's rep never changes), so
    # that a rep's emails are listed and counted from one index, without joining 1,000,000
    # sends to their enrollments.
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    position: Mapped[int] = mapped_column(Integer)
    # None until the rep connects a mailbox; such sends wait with a reason.
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    state: Mapped[SendState] = mapped_column(_enum(SendState, "send_state"))
    planned_at: Mapped[datetime | None]  # the rules' time, before "past means now"
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    # Released by the rep "with the default text": a merge field with no value renders blank
    # instead of holding the send (sending/held.py).
    blank_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    # What went out (rendered at send time; an email task's edited text when the rep wrote it).
    to_addr: Mapped[str] = mapped_column(String(320), default="")
    cc: Mapped[list[str] | None] = mapped_column(JSON)  # None: none
    bcc: Mapped[list[str] | None] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    # Provider ids, recorded before the call that sends (draft) and after (message).
    draft_id: Mapped[str | None] = mapped_column(String(200))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(200))
    rfc_message_id: Mapped[str | None] = mapped_column(String(998))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Send pipeline: when the dispatcher handed it to RQ or last saw its job waiting there (a
    # `queued` row older than a threshold with no live RQ job is enqueued again).
    enqueued_at: Mapped[datetime | None]


class SendCount(Base):
    """How many of a rep's sends are in one state, kept by PostgreSQL triggers on sends and
    enrollments (row_counts.py), per mailbox (0: none) and whether the person is paused, in
    eight shards. The Emails tabs' and the outbox API's totals sum these rows."""

    __tablename__ = "send_counts"

    rep_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class EnrollmentCount(Base):
    """How many of a rep's enrollments in one campaign have one status, kept by PostgreSQL
    triggers on enrollments (row_counts.py), in eight shards: the People total and the
    campaigns list's figures sum these rows."""

    __tablename__ = "enrollment_counts"

    rep_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class SendLog(Base):
    """History of a send's state changes, for `addin-server why`."""

    __tablename__ = "send_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str] = mapped_column(String(32), default="")
    to_state: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class Task(Base):
    """Work for the rep: an email to write and send, a call, a LinkedIn touch, a custom task."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "position"),
        Index("ix_tasks_rep_status", "rep_id", "status", "due_date"),
        # The report's overdue tasks: the open tasks whose day has passed, by position.
        Index("ix_tasks_status_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[StepType] = mapped_column(_enum(StepType, "task_type"))
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    due_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    # A Gmail draft made for this task by the add-on (matched when the rep sends it).
    draft_id: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Gmail add-on: the thread of that draft (its sent message stays in it) and when it was
    # made (Sent items are searched from then on).
    draft_thread_id: Mapped[str | None] = mapped_column(String(200))
    draft_created_at: Mapped[datetime | None]
    # When the Live Feed said the task is due (once; tasks.announce_due_tasks).
    due_announced_at: Mapped[datetime | None]
    # A call task's outcome (enums.CallOutcome) and the rep's note, given when completing it;
    # Salesforce gets them as CallDisposition and Description.
    call_outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")

class SentMessage(Base):
    """An email that went out to a person: what a later "reply to previous" threads on and quotes,
    and what reply detection matches against."""

    __tablename__ = "sent_messages"
    __table_args__ = (UniqueConstraint("enrollment_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(200), index=True)
    rfc_message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    references: Mapped[str] = mapped_column(Text, default="")  # the chain, space separated
    sent_at: Mapped[datetime]
    # The report's honest numbers (tallies.py): the first real reply to this email, once, and
    # a bounce of it (which un-counts an earlier reply).
    replied_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]


class Event(Base):
    """The Live Feed: what just happened."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_org_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    enrollment_id: Mapped[int | None] = mapped_column(Integer)
    person_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(Integer)
    send_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- send pipeline: the local development mailbox --------------------------------------------


class LocalMessage(Base):
    """A message in a local development mailbox: what it would have mailed, as RFC 5322 bytes."""

    __tablename__ = "local_messages"
    __table_args__ = (Index("ix_local_messages_send", "mailbox_id", "send_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"), index=True)
    is_draft: Mapped[bool] = mapped_column(Boolean, default=True)
    thread_id: Mapped[str] = mapped_column(String(64), index=True)
    rfc_message_id: Mapped[str] = mapped_column(String(998), index=True)
    send_id: Mapped[str] = mapped_column(String(64), default="")  # our X-Campaign-Send-Id
    to_addr: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # A message that arrived in the mailbox (DEV_MODE's simulated reply, bounce or out of
    # office: inbound/simulate.py) rather than one it sent; its inbox reader reads these.
    inbound: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


# --- Salesforce sync (crm/) ---


class CrmConnection(Base):
    """A rep's Salesforce connection: where the API is, who the rep is there, their tokens."""

    __tablename__ = "crm_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), unique=True)
    status: Mapped[CrmStatus] = mapped_column(
        _enum(CrmStatus, "crm_status"), default=CrmStatus.CONNECTED
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    login_url: Mapped[str] = mapped_column(String(200))  # production or sandbox login host
    instance_url: Mapped[str] = mapped_column(String(200))  # the API base
    identity_url: Mapped[str] = mapped_column(String(300), default="")
    sf_org_id: Mapped[str] = mapped_column(String(18), default="")
    sf_user_id: Mapped[str] = mapped_column(String(18), default="")  # the OwnerId of our Tasks
    # Fernet-encrypted (crypto.py); never logged.
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    # How a record is found again: "upsert" (External ID field), "field" (a plain custom text
    # field), "description" (our key in the Description); None until Task is described.
    key_mode: Mapped[str | None] = mapped_column(String(16))
    # The org's rolling 24 h API allocation, from the last Sforce-Limit-Info header.
    api_used: Mapped[int | None] = mapped_column(Integer)
    api_limit: Mapped[int | None] = mapped_column(Integer)
    api_seen_at: Mapped[datetime | None]
    # Nothing is pushed or pulled before this (a limit back-off or REQUEST_LIMIT_EXCEEDED).
    hold_until: Mapped[datetime | None]
    # The last failure of a push or pull (Salesforce's error code, what it said, which rows),
    # shown on the rep's Salesforce status; kept until a newer failure replaces it.
    last_error_code: Mapped[str] = mapped_column(String(64), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None]
    # Tasks changed in Salesforce since this SystemModstamp are pulled next.
    pull_cursor: Mapped[datetime | None]
    pulled_at: Mapped[datetime | None]
    # Activity (sent emails, replies) from this time on is logged.
    activity_since: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CrmLink(Base):
    """One thing of ours mirrored as one Salesforce Task. SQL is the truth: the row exists
    (written in the transaction that made the change) before anything is pushed.

    `version` grows with every local change; `pushed_version` is the last one Salesforce has.
    """

    __tablename__ = "crm_links"
    __table_args__ = (
        UniqueConstraint("kind", "local_id"),
        Index("ix_crm_links_due", "state", "next_attempt_at"),
        Index("ix_crm_links_sf_id", "sf_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    kind: Mapped[CrmLinkKind] = mapped_column(_enum(CrmLinkKind, "crm_link_kind"))
    local_id: Mapped[int] = mapped_column(Integer)  # tasks.id, sent_messages.id or events.id
    state: Mapped[CrmLinkState] = mapped_column(
        _enum(CrmLinkState, "crm_link_state"), default=CrmLinkState.PENDING
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    pushed_version: Mapped[int] = mapped_column(Integer, default=0)
    sf_id: Mapped[str | None] = mapped_column(String(18))
    who_id: Mapped[str | None] = mapped_column(String(18))  # the Contact or Lead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The sync's sweep links sent emails and replies of the last days that no hook linked: these
# keep that scan to the recent rows.
Index("ix_sent_messages_sent_at", SentMessage.sent_at)
# The mailbox report's reply and bounce rates read a mailbox's recent sent emails.
Index("ix_sent_messages_mailbox_sent_at", SentMessage.mailbox_id, SentMessage.sent_at)
Index("ix_events_type_at", Event.type, Event.at)


# --- Replies, bounces, unsubscribes (issue 9) ------------------------------------------------


class Suppression(Base):
    """An address of the organisation that is never emailed: unsubscribed or added by hand."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str] = mapped_column(String(320))  # lower case
    reason: Mapped[str] = mapped_column(String(32))  # "unsubscribed" | "manual" | "bounced"
    # Why, in detail: how an unsubscribe came (one-click, page, email), a bounce's status and
    # diagnostic, or the note of whoever added it by hand (created_by).
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    creator: Mapped[Rep | None] = relationship()


class BlockedDomain(Base):
    """A domain the organisation never emails (a customer, a competitor); admins manage it."""

    __tablename__ = "blocked_domains"
    __table_args__ = (UniqueConstraint("org_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    domain: Mapped[str] = mapped_column(String(253))  # lower case, no leading "@"
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    creator: Mapped[Rep | None] = relationship()


class PersonAddress(Base):
    """Another address of the same person: a reply from it counts as theirs."""

    __tablename__ = "person_addresses"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))  # lower case
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """An inbound message already looked at, once per mailbox: polls, pushes and the pre-send
    check may all see it, and it must be acted on once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("mailbox_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    provider_message_id: Mapped[str] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(200))
    rfc_message_id: Mapped[str | None] = mapped_column(String(998))
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    # What the person's page shows of it in the thread (inbound/matching.facts_of).
    subject: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))  # inbound.Kind, or "ignored"
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime | None]
    processed_at: Mapped[datetime]


# --- Results (issue 16) -------------------------------------------------------------------


class ReportCount(Base):
    """A counter of the campaign report, kept as things happen (tallies.py): how many of one
    thing (`metric`: sent, replied, tasks_done, call_busy...) happened on one day (in the
    campaign's time zone) at one step, for one rep. The report sums these rows, never the
    sends themselves, so it costs the same at a thousand sends or a million."""

    __tablename__ = "report_counts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "day", "rep_id", "position", "metric",
                         name="uq_report_counts_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    day: Mapped[date] = mapped_column(Date)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    position: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer, default=0)
# --- Deliverability guard (issue 18) ----------------------------------------------------------


class Bounce(Base):
    """A hard bounce of one of our emails: rejected by the provider's API, or a DSN in the rep's
    inbox. What the breakers count (guard/breakers.py), with the code and text it came with."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    address: Mapped[str] = mapped_column(String(320))  # the bounced recipient, lower case
    sending_domain: Mapped[str] = mapped_column(String(253), index=True)  # lower case
    source: Mapped[str] = mapped_column(String(8))  # "api" (refused at send) | "dsn"
    code: Mapped[str] = mapped_column(String(16), default="")  # e.g. "5.1.1", when known
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    # When the breakers looked at it (the send job at once; a DSN's by the dispatcher's duty).
    evaluated_at: Mapped[datetime | None] = mapped_column(index=True)
    # Quarantine (guard/quarantine.py): who reported it (the DSN sender's domain), and whether
    # it was held for review as part of a burst, and when an admin released it.
    provider: Mapped[str] = mapped_column(String(253), default="")
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    released_at: Mapped[datetime | None]


class BulkCount(Base):
    """The bulk-sender meter (guard/meter.py): messages sent on one UTC day from one primary
    sending domain (the From address's registrable domain) to one consumer provider's users
    (gmail, yahoo, outlook), across every rep of the organisation. Counted in the transaction
    that records each sent email. `warned_at`: the day's count passed the warning share (once);
    `notified_at`: the admins were emailed about it."""

    __tablename__ = "bulk_counts"
    __table_args__ = (
        UniqueConstraint("org_id", "domain", "day", "provider", name="uq_bulk_counts_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    domain: Mapped[str] = mapped_column(String(253))
    day: Mapped[date] = mapped_column(Date)
    provider: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(Integer, default=0)
    warned_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
