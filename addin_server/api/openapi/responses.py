"""Response bodies of /api/v1 as pydantic v2 models, for the document only: the serializers
(api/serializers.py) build the JSON, and tests validate real responses against these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from addin_server.api.openapi.requests import DateStr, SendOption, StepType

# An instant as the server writes it: UTC, second precision, "Z".
Instant = Annotated[str, Field(pattern="Z$", json_schema_extra={"format": "date-time"})]
NInstant = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]


class Out(BaseModel):
    """A response body (documentation only: the serializers build the JSON)."""


class Error(Out):
    field: str
    message: str


class Errors(Out):
    errors: list[Error]


class Step(Out):
    id: int = 0
    position: int
    day: int
    type: StepType
    send_option: SendOption | None
    send_time: str | None
    reply_to_previous: bool
    subject: str = ""
    body_html: str = ""
    template_id: int | None = None
    instructions: str = ""
    cc: list[str] = []
    bcc: list[str] = []


class Snippet(Out):
    id: int
    name: str
    body_html: str
    shared: bool
    mine: bool  # the caller's own (they may change it)
    owner_rep_id: int
    updated_at: Instant


class Signature(Out):
    signature_html: str


class AttachmentOut(Out):
    id: int
    filename: str
    content_type: str
    size: int
    send_id: int | None


class Breaker(Out):
    """A tripped hard-bounce breaker (docs/deliverability.md); null when none."""

    reason: str
    scope: Literal["mailbox", "domain", "campaign", "restricted"]
    tripped_at: NInstant = None


class Campaign(Out):
    id: int
    name: str
    timezone: str
    owner_id: int = 0
    archived: bool = False
    settings: dict[str, Any]
    steps: list[Step]
    breaker: Breaker | None = None


class LiveEdit(Out):
    """What a change did (a dry run: would do) to the people in the campaign."""

    people: int  # live people on or before a changed step: their future steps change
    rescheduled: int  # scheduled sends moved to their step's new time
    due_now: int  # of those, how many now fall in the past and go at once
    kept_by_hand: int  # scheduled sends the rep rescheduled by hand: left at their time
    tasks_moved: int  # open tasks given their step's new due date
    cancelled: int  # sends and tasks of removed steps, cancelled
    finished: int  # people whose remaining steps were all removed
    dry_run: bool


class CampaignChange(Campaign):
    live_edit: LiveEdit


class CampaignPeople(Out):
    """How many people each campaign action would touch."""

    active: int
    paused: int
    paused_with_campaign: int  # paused by a campaign pause: what resume resumes


class CampaignAction(Out):
    action: Literal["pause", "resume", "stop"]
    affected: int  # people paused, resumed or stopped
    people: CampaignPeople  # the counts after it
    campaign: Campaign


class Enrolled(Out):
    id: int
    email: str
    status: str


class Skipped(Out):
    email: str
    reason: str


class LaunchWarning(Out):
    email: str
    step: int | None
    code: str
    message: str


class InvalidRow(Out):
    line: int
    column: str
    message: str


class LaunchOut(Out):
    enrollments: list[Enrolled]
    skipped: list[Skipped]
    warnings: list[LaunchWarning] = []
    invalid: list[InvalidRow] = []
    columns: dict[str, str] | None = None
    dry_run: bool | None = None
    # Dry run only: per step, the count on each local day, first, last and moved_by (rule ->
    # count); each person's schedule (first 1,000 people).
    forecast: dict[str, Any] | None = None


class BackgroundLaunch(Out):
    """A launch going on in the background (202), and its progress (GET /launches/{id})."""

    status: str
    id: str | None = None
    launch_id: str | None = None
    total: int | None = None
    done: int | None = None
    phase: str | None = None
    reason: str | None = None
    campaign_id: int | None = None
    enrollments: Any = None
    skipped: Any = None
    result: dict[str, Any] | None = None


class Person(Out):
    id: int
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    title: str = ""
    timezone: str | None = None
    fields: dict[str, Any] = {}
    unsubscribed: bool = False


class StepState(Out):
    position: int
    day: int
    type: str
    send_option: str | None
    status: str = Field(description="a send state (scheduled, queued, sending, unknown, sent, "
                        "failed, held, cancelled), a task status (open, completed, skipped, "
                        "cancelled), planned or not_planned")
    due_at: str | None = Field(json_schema_extra={"format": "date-time"},
                               description="UTC, for email steps with a time, planned or "
                                           "scheduled")
    due_date: Annotated[str | None, Field(json_schema_extra={"format": "date"})] = None
    reason: str = Field(description="why a pending step has not gone out yet")
    send_id: int | None = None
    task_id: int | None = None


class Enrollment(Out):
    id: int
    campaign_id: int = 0
    status: str
    start_date: DateStr = ""
    stop_reason: str = ""
    person: Person
    steps: list[StepState]


class TaskCampaign(Out):
    id: int
    name: str


class TaskPerson(Out):
    id: int = 0
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""


class Task(Out):
    id: int
    type: StepType
    status: Literal["open", "completed", "skipped", "cancelled"]
    title: str = ""
    instructions: str = ""
    due_date: DateStr
    enrollment_id: int
    position: int = 0
    campaign: TaskCampaign | None = None
    person: TaskPerson
    call_outcome: str | None = None
    note: str = ""


class ReplyTo(Out):
    message_id: str | None
    references: str
    thread_id: str | None
    provider_message_id: str | None = None
    subject: str = ""


class Compose(Out):
    to: str
    subject: str
    body_html: str
    reply_to: ReplyTo | None
    prompts: list[str] = []


class TaskResult(Out):
    id: int
    status: str
    changed: bool


class Template(Out):
    id: int
    name: str
    subject: str
    body_html: str
    shared: bool = False
    owner_id: int = 0
    owner: str = ""
    updated_at: NInstant = None
    # May the caller change, share or delete it (accounts.may_manage_template).
    can_manage: bool = False


class TemplateUse(Out):
    campaign_id: int
    campaign: str
    step: int


class TemplateDeleted(Out):
    deleted: int
    # Steps of campaigns with nobody on them that used it keep its text as their own.
    detached_steps: int


class Preview(Out):
    subject: str
    body_html: str
    missing_fields: list[str]
    prompts: list[str] = []


class Event(Out):
    model_config = ConfigDict(extra="allow")
    id: int
    type: str
    at: Instant


class SendPerson(Out):
    id: int
    email: str


class History(Out):
    model_config = ConfigDict(populate_by_name=True)
    at: Instant
    from_: str | None = Field(None, alias="from")
    to: str
    note: str = ""


class HeldEmail(Out):
    """A held send rendered now for its person: what it lacks and the email both ways."""

    missing_fields: list[str]
    subject: str = Field(description="missing fields marked [name]")
    body_html: str = Field(description='missing fields marked <mark class="missing-field">')
    default_subject: str = Field(description="as use_defaults sends it (missing fields blank)")
    default_body_html: str
    problem: str = Field("", description="a step no field value fixes (malformed, prompts)")


class Send(Out):
    id: int
    state: Literal["scheduled", "queued", "sending", "unknown", "sent", "failed", "held",
                   "cancelled"]
    due_at: Instant
    planned_at: NInstant = None
    reason: str
    attempts: int
    lease_until: NInstant = None
    enrollment_id: int = 0
    position: int = 0
    task_id: int | None = None
    mailbox_id: int | None = None
    to: str | None = None
    cc: list[str] = []
    bcc: list[str] = []
    subject: str | None = None
    sent_at: NInstant = None
    message_id: str | None = None
    provider_message_id: str | None = None
    thread_id: str | None = None
    person: SendPerson | None = None
    created: bool = False
    history: list[History] = []
    held: HeldEmail | None = None


class LocalMessage(Out):
    id: int
    draft: bool
    inbound: bool = Field(False, description="arrived in the mailbox (a simulated answer, "
                          "DEV_MODE) rather than sent from it")
    thread_id: str | None = None
    message_id: str | None = None
    send_id: str | None = None
    to: str
    subject: str
    created_at: Instant = ""
    sent_at: NInstant = None
    headers: dict[str, str]
    text: str = ""


class Organisation(Out):
    id: int
    name: str


class Me(Out):
    id: int
    email: str
    name: str = ""
    timezone: str = ""
    is_admin: bool = False
    organisation: Organisation
    signature_html: str = ""


class Suppression(Out):
    email: str
    reason: Literal["unsubscribed", "manual", "bounced"]
    note: str = ""
    created_at: str = ""
    # Who added it by hand (null: the person unsubscribed, or their email bounced).
    created_by: str | None = None


class BlockedDomain(Out):
    domain: str
    note: str = ""
    created_at: str = ""
    created_by: str | None = None


class BulkAdded(Out):
    added: list[str]
    already: list[str]


class StopRules(Out):
    stop_on_reply: bool
    mark_success_on_reply: bool
    remove_on_bounce: bool
    reply_from_same_domain: bool
    stop_other_campaigns_on_reply: bool
    stop_company_on_colleague_reply: bool
    skip_if_active_elsewhere: bool


class OrganisationSettings(Out):
    id: int
    name: str
    default_timezone: str | None
    working_days: list[str]
    holiday_countries: list[str]
    stop_rules: StopRules
    shared_launch: Literal["owner_and_admins", "all_reps"]
    domains: list[str]


class Removed(Out):
    removed: str


class PersonAddresses(Out):
    person_id: int
    email: str
    addresses: list[str]


class PersonRow(Person):
    owner_rep_id: int | None = None
    bounced: bool = False


class People(Out):
    people: list[PersonRow]
    total: int = Field(description="every person matching q, not only this page")
    limit: int
    offset: int


class Standing(Out):
    """Why the person is stopped or held, in one line ("Stopped: replied on 3 Mar 2027 (in
    campaign 'Q4')", "Held: out of office until 10 Mar 2027 (seen in campaign 'Q4')")."""

    state: Literal["stopped", "held", "active", "none"]
    text: str


class PersonEnrollment(Out):
    id: int
    campaign_id: int
    campaign_name: str
    status: str
    start_date: DateStr = ""
    stop_reason: str = ""
    paused_until: NInstant = None
    may_change: bool = Field(description="the caller may pause, resume or stop it")
    steps: list[StepState]


class ThreadItem(Out):
    at: Instant
    direction: Literal["out", "in"]
    kind: str = Field(description="sent (ours), or what came back: human, bounce, "
                      "out_of_office, auto_reply")
    subject: str
    text: str
    from_addr: str = Field("", alias="from")
    to: str = ""
    campaign_id: int | None = None
    campaign_name: str = ""
    send_id: int | None = None


class PersonDetail(PersonRow):
    editable: bool = Field(description="the caller may change the fields (owner or admin)")
    created_at: Instant = ""
    addresses: list[str]
    standing: Standing
    enrollments: list[PersonEnrollment]
    thread: list[ThreadItem]
    dev_mode: bool = Field(False, description="simulated answers are available")


class Simulated(Out):
    kind: str = Field(description="what the poll classified the message as")
    enrollment_id: int | None = None
    action: str


class Absence(Out):
    """The rep's vacation responder as last read (when the organisation reads it)."""

    on: bool
    start: NInstant = None
    end: NInstant = None
    holds: bool = Field(description="the responder is on now and the organisation waits: "
                                    "automatic emails and due tasks wait")
    checked_at: NInstant = None
    error: str = ""


class MailboxLimits(Out):
    id: int
    address: str
    daily_cap: int | None
    min_gap_seconds: int
    batch_size: int | None
    batch_wait_seconds: int
    breaker: Breaker | None = None
    absence: Absence | None = None


class ProviderCount(Out):
    provider: Literal["gmail", "yahoo", "outlook"]
    name: str
    count: int
    share: float


class DomainMeter(Out):
    """One primary sending domain's emails today (UTC) to each consumer provider."""

    domain: str
    day: DateStr
    line: int
    warn_at: int
    level: Literal["ok", "warn", "line"]
    providers: list[ProviderCount]


class DeliverabilitySettings(Out):
    bulk_hold: bool
    read_absence: bool
    absence_hold: bool


class Deliverability(Out):
    settings: DeliverabilitySettings
    meter: list[DomainMeter]


class ForecastDay(Out):
    date: DateStr
    # The mailbox's cap that day (a new mailbox ramps up to its cap).
    cap: int | None = None
    due: int = Field(description="sends due that day")
    expected: int = Field(description="sends expected to go that day under the cap, pacing "
                                      "and sending windows")


class Forecast(Out):
    mailbox_id: int
    address: str = ""
    daily_cap: int | None = None
    min_gap_seconds: int = 0
    batch_size: int | None = None
    batch_wait_seconds: int = 0
    days: list[ForecastDay]


class ReportTotals(Out):
    enrolled: int
    active: int
    paused: int
    out_of_office: int
    finished: int
    emailed: int
    replied: int
    # replied / emailed (people who got at least one email)
    reply_rate: float | None
    bounced: int
    unsubscribed: int
    stopped: int
    sent: int
    held: int
    failed: int
    tasks_done: int
    tasks_skipped: int
    tasks_overdue: int


class CallCounts(Out):
    connected: int
    left_voicemail: int
    no_answer: int
    wrong_number: int
    busy: int


class ReportStep(Out):
    position: int
    type: StepType
    day: int
    sent: int
    held: int
    failed: int
    replied: int
    bounced: int
    unsubscribed: int
    tasks_done: int
    tasks_skipped: int
    tasks_overdue: int
    tasks_on_time: int
    reply_rate: float | None = None
    on_time_rate: float | None = None
    calls: CallCounts


class ReportCampaign(Out):
    id: int
    name: str
    timezone: str = ""


class ReportFilters(Out):
    from_: Annotated[DateStr | None, Field(alias="from")] = None
    to: DateStr | None = None
    rep_id: int | None = None


class ReportDay(Out):
    day: DateStr
    sent: int
    replied: int


class CampaignReport(Out):
    campaign: ReportCampaign
    filters: ReportFilters
    totals: ReportTotals
    steps: list[ReportStep]
    days: list[ReportDay]


class MailboxReport(Out):
    id: int
    address: str
    provider: str = ""
    rep_id: int = 0
    rep_email: str = ""
    status: str
    sent_today: int
    daily_cap: int | None
    cap_used_today: float | None = None
    sent_7_days: int
    cap_7_days: int | None = None
    emails_30_days: int = 0
    replied_30_days: int = 0
    bounced_30_days: int = 0
    reply_rate: float | None
    bounce_rate: float | None
    paused_until: str | None = None
    paused_seconds_left: int = 0
    disconnected_since: str | None = None
    disconnected_seconds: int = 0
    reason: str = ""
