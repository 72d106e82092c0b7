"""Request bodies of /api/v1 as pydantic v2 models: the document's `*In` schemas and the
first check of every JSON body (api/body.py). Strict types (no "1" for 1, no true for 1),
unknown keys ignored as the domain parsers always did; the rules a schema cannot say (a known
time zone, a reply step after an email) stay in those parsers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from addin_server.validation import MAX_ID, SUBJECT_MAX

StepType = Literal["email", "call", "linkedin", "custom"]
SendOption = Literal["choose_at_launch", "fixed_time", "same_time_as_previous", "manual_task"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
HHMM = Annotated[str, Field(pattern=HHMM_PATTERN)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
DateStr = Annotated[str, Field(json_schema_extra={"format": "date"})]
# Custom field values: text or a number (the parser turns numbers into text).
FieldValue = Annotated[Any, WithJsonSchema({"type": ["string", "number"]})]


Address = Annotated[str, Field(max_length=320)]


class In(BaseModel):
    """A request body: strict types, unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

class SendingWindow(In):
    days: list[Day] = Field(min_length=1)
    start: HHMM
    end: HHMM

class Settings(In):
    skip_weekends: bool | None = None
    stop_on_reply: bool | None = None
    mark_success_on_reply: bool | None = None
    remove_on_bounce: bool | None = None
    use_recipient_timezone: bool | None = None
    reply_from_same_domain: bool | None = None
    stop_other_campaigns_on_reply: bool | None = None
    skip_if_active_elsewhere: bool | None = None
    stop_company_on_colleague_reply: bool | None = None
    sending_window: SendingWindow | None = None
    holiday_countries: list[Annotated[str, Field(max_length=10)]] | None = Field(
        None, max_length=10)

class StepIn(In):
    id: Id | None = None  # the saved step it is (as read back); none for a new step
    day: int = Field(ge=1, le=365)
    type: StepType
    send_option: SendOption | None = None
    send_time: HHMM | None = None
    reply_to_previous: bool | None = None
    subject: Annotated[str, Field(max_length=SUBJECT_MAX)] | None = None
    body_html: Annotated[str, Field(max_length=200_000)] | None = None
    template_id: Id | None = None
    instructions: Annotated[str, Field(max_length=5000)] | None = None
    # Copies on the step's automatic emails (each address checked by the parser).
    cc: list[Address] | None = Field(None, max_length=20)
    bcc: list[Address] | None = Field(None, max_length=20)

class CampaignIn(In):
    name: str = Field(max_length=200)
    timezone: Annotated[str, Field(max_length=64)] | None = None
    settings: Settings | None = None
    steps: list[StepIn] = Field(max_length=100)

class CampaignPatch(In):
    """A change: every key optional; steps, when given, replace the whole list."""

    name: str | None = Field(None, max_length=200)
    timezone: Annotated[str, Field(max_length=64)] | None = None
    settings: Settings | None = None
    steps: list[StepIn] | None = Field(None, max_length=100)

class PersonIn(In):
    email: str = Field(max_length=320)
    first_name: Annotated[str, Field(max_length=200)] | None = None
    last_name: Annotated[str, Field(max_length=200)] | None = None
    company: Annotated[str, Field(max_length=200)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    fields: dict[str, FieldValue] | None = None

class LaunchIn(In):
    """People as a list, or a CSV file's text in `csv` (with `columns` naming what each header
    holds); `dry_run` writes nothing and answers with the forecast."""

    people: list[PersonIn] | None = None
    csv: str | None = None
    columns: dict[str, str] | None = None
    skip_invalid: bool | None = None
    dry_run: bool | None = None
    check_mx: bool | None = None
    start_date: DateStr | None = None
    first_send_at: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    # A first_send_at already past is refused unless the rep confirms "send them now".
    send_past_now: bool | None = None

class TemplateIn(In):
    name: str = Field(max_length=200)
    subject: Annotated[str, Field(max_length=SUBJECT_MAX)] | None = None
    body_html: str = Field(max_length=200_000)
    # Shared with the organisation (admins only); private by default.
    shared: bool | None = None

class TemplatePatch(In):
    name: str | None = Field(None, max_length=200)
    subject: Annotated[str, Field(max_length=SUBJECT_MAX)] | None = None
    body_html: str | None = Field(None, max_length=200_000)
    shared: bool | None = None

class PreviewIn(In):
    subject: Annotated[str, Field(max_length=SUBJECT_MAX)] | None = None
    body_html: Annotated[str, Field(max_length=200_000)] | None = None
    template_id: Id | None = None
    person: PersonIn | None = None
    person_email: Annotated[str, Field(max_length=320)] | None = None

class TaskSendIn(In):
    subject: str = Field(max_length=SUBJECT_MAX)
    body_html: str = Field(max_length=500_000)
    send_at: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    cc: list[Address] | None = Field(None, max_length=20)
    bcc: list[Address] | None = Field(None, max_length=20)
    # Files uploaded first with POST /attachments; at most 25 MB together.
    attachment_ids: list[Id] | None = Field(None, max_length=20)

class SnippetIn(In):
    name: str = Field(min_length=1, max_length=200)
    body_html: str = Field(max_length=50_000)
    shared: bool | None = None

class SnippetPatch(In):
    name: str | None = Field(None, min_length=1, max_length=200)
    body_html: str | None = Field(None, max_length=50_000)
    shared: bool | None = None

class SignatureIn(In):
    signature_html: str = Field(max_length=20_000)

class SendPatchIn(In):
    """A change to a send not yet claimed; at least one key (the handler says so)."""

    send_at: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    subject: Annotated[str, Field(max_length=SUBJECT_MAX)] | None = None
    body_html: Annotated[str, Field(max_length=500_000)] | None = None


class SendReleaseIn(In):
    """Release a held send: values for the person's merge fields (saved on the person), and
    whether fields still empty may go out blank (the step's default text)."""

    fields: Annotated[dict[Annotated[str, Field(max_length=64)],
                           Annotated[str, Field(max_length=200)]],
                      Field(max_length=50)] | None = None
    use_defaults: bool | None = None


class TaskCompleteIn(In):
    cancel_send: bool | None = None
    # A call task's outcome (the handler names the field when it does not fit the task).
    outcome: Annotated[str, Field(json_schema_extra={"enum": [
        "connected", "left_voicemail", "no_answer", "wrong_number", "busy"]})] | None = None
    note: Annotated[str, Field(max_length=4000)] | None = None


class BulkFilter(In):
    """The filter of a Command Center list: People (`q`, `status`, `campaign_id`) or one
    Emails tab (`state`, `q`, `campaign_id`: the people of its emails)."""

    view: Literal["people", "emails"]
    q: Annotated[str, Field(max_length=200)] | None = None
    status: Literal["live", "all"] | None = None
    state: Literal["scheduled", "waiting", "sent", "failed"] | None = None
    campaign_id: Id | None = None


class BulkEnrollmentsIn(In):
    """The enrollments by `ids`, or every one a list's `filter` matches (exactly one)."""

    action: Literal["pause", "resume", "stop"]
    ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)] | None = None
    filter: BulkFilter | None = None


class BurstReleaseIn(In):
    provider: str = Field(max_length=253)


class SuppressionIn(In):
    email: str = Field(max_length=320)
    note: Annotated[str, Field(max_length=500)] | None = None

class BlockedDomainIn(In):
    domain: str = Field(max_length=253)
    note: Annotated[str, Field(max_length=500)] | None = None

class BulkListIn(In):
    """Many addresses (or domains) at once: a list, or a CSV file's text (a header naming an
    `email` or `domain` column, else the first column). Nothing is added unless every line is
    good: a 422 names each bad one (`entries[3]`, `csv line 4`)."""

    entries: list[Annotated[str, Field(max_length=1000)]] | None = Field(None, max_length=10_000)
    csv: Annotated[str, Field(max_length=2_000_000)] | None = None
    note: Annotated[str, Field(max_length=500)] | None = None

class StopRulesIn(In):
    stop_on_reply: bool | None = None
    mark_success_on_reply: bool | None = None
    remove_on_bounce: bool | None = None
    reply_from_same_domain: bool | None = None
    stop_other_campaigns_on_reply: bool | None = None
    stop_company_on_colleague_reply: bool | None = None
    skip_if_active_elsewhere: bool | None = None

class OrganisationPatch(In):
    """A change to the organisation's settings (admins); only the keys given change."""

    default_timezone: Annotated[str, Field(max_length=64)] | None = None
    working_days: list[Day] | None = Field(None, min_length=1, max_length=7)
    holiday_countries: list[Annotated[str, Field(max_length=10)]] | None = Field(
        None, max_length=10)
    stop_rules: StopRulesIn | None = None
    shared_launch: Literal["owner_and_admins", "all_reps"] | None = None
    domains: list[Annotated[str, Field(max_length=253)]] | None = Field(
        None, min_length=1, max_length=50)

class PersonAddressIn(In):
    email: str = Field(max_length=320)

class PersonPatch(In):
    """The fields to change (the address is the person's identity: add another address
    instead); in `fields`, null removes a custom field."""

    first_name: Annotated[str, Field(max_length=200)] | None = None
    last_name: Annotated[str, Field(max_length=200)] | None = None
    company: Annotated[str, Field(max_length=200)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    fields: dict[str, FieldValue | None] | None = None

class SimulateIn(In):
    """DEV_MODE: make the person answer one of our emails sent from the local mailbox."""

    kind: Literal["reply", "bounce", "ooo"]
    send_id: Id


class DeliverabilitySettingsIn(In):
    bulk_hold: bool | None = Field(None, description="hold automatic first emails to a "
                                   "consumer provider at the 5,000/day line until the next day")
    read_absence: bool | None = Field(None, description="read each rep's vacation responder "
                                      "(reps reconnect to grant one more scope)")
    absence_hold: bool | None = Field(None, description="while a rep is away, their automatic "
                                      "emails and due tasks wait (false: they go on)")


class MailboxLimitsIn(In):
    daily_cap: Annotated[int, Field(ge=1, le=10_000)] | None = None
    min_gap_seconds: int = Field(0, ge=0, le=86_400)
    batch_size: Annotated[int, Field(ge=1, le=10_000)] | None = None
    batch_wait_seconds: int = Field(0, ge=0, le=86_400)
