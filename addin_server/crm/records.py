"""Pure rules of the Salesforce sync: what a Task record says, and when to push.

No I/O here: the sync (push.py, pull.py) loads the rows and passes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from addin_server.crm.port import KeyFields, Record
from addin_server.crm.salesforce import key_marker
from addin_server.enums import (
    CALL_OUTCOME_LABELS,
    CallOutcome,
    CrmLinkKind,
    StepType,
    TaskStatus,
)
from addin_server.html_text import html_to_text

SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000
EXCERPT_CHARS = 1_000

# Share of the org's daily API allocation above which only urgent pushes (the rep's tasks)
# go out, and above which nothing does until the rolling 24 h window frees some.
SLOW_DOWN_AT = 0.90
STOP_AT = 0.98
LIMIT_WAIT = timedelta(minutes=30)
LIMIT_EXCEEDED_WAIT = timedelta(hours=1)


def key_for(prefix: str, kind: CrmLinkKind, local_id: int) -> str:
    """Our key of a record: stable across retries, distinct per installation (prefix)."""
    return f"{prefix}-{kind.value}-{local_id}"


def sf_status(status: TaskStatus) -> str:
    """Open is "Not Started"; done, skipped and cancelled are all closed there."""
    return "Not Started" if status == TaskStatus.OPEN else "Completed"


def subtype_for(step_type: StepType) -> str:
    return {StepType.EMAIL: "Email", StepType.CALL: "Call"}.get(step_type, "Task")


def excerpt(body_html: str, limit: int = EXCERPT_CHARS) -> str:
    text = html_to_text(body_html)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class TaskFacts:
    """What a Salesforce Task mirroring one of our tasks says."""

    title: str
    campaign: str
    person_email: str
    type: StepType
    status: TaskStatus
    due_date: date
    instructions: str
    call_outcome: str | None = None  # enums.CallOutcome value, a completed call's
    note: str = ""  # the rep's note on completing it


@dataclass(frozen=True)
class ActivityFacts:
    """An email that went out, or a reply that came in, logged as a completed Task."""

    kind: CrmLinkKind  # SENT or REPLY
    subject: str
    address: str  # the recipient of a sent email, the sender of a reply
    body_html: str
    on: date  # the day, in the rep's time zone


def task_subject(facts: TaskFacts) -> str:
    return _cut(f"{facts.title} · {facts.campaign}", SUBJECT_MAX)


def activity_subject(facts: ActivityFacts) -> str:
    label = "Email" if facts.kind == CrmLinkKind.SENT else "Reply"
    return _cut(f"{label}: {facts.subject or '(no subject)'}", SUBJECT_MAX)


def _with_key(record: Record, keys: KeyFields, key: str, *, create: bool) -> Record:
    if keys.mode == "description":
        # The key rides in the Description, rewritten with it on every update.
        record["Description"] = _cut(record.get("Description", ""), DESCRIPTION_MAX - 60)
        record["Description"] = (record["Description"] + "\n\n" + key_marker(key)).strip()
    elif create:
        record[keys.name] = key
    return record


def task_record(
    facts: TaskFacts, *, key: str, keys: KeyFields, owner_id: str, who_id: str | None,
    create: bool,
) -> Record:
    """The Task fields for one of our tasks. TaskSubtype can be set on create only."""
    # The rep's note first: it is what a colleague reading the Task wants.
    lines = [facts.note.strip()] if facts.note.strip() else []
    if facts.instructions.strip():
        lines.append(facts.instructions.strip())
    lines.append(f"Campaign: {facts.campaign}")
    lines.append(f"Person: {facts.person_email}")
    if facts.status == TaskStatus.SKIPPED:
        lines.append("Skipped in the campaign.")
    elif facts.status == TaskStatus.CANCELLED:
        lines.append("Cancelled: the person's campaign ended.")
    record: Record = {
        "Subject": task_subject(facts),
        "Status": sf_status(facts.status),
        "ActivityDate": facts.due_date.isoformat(),
        "Priority": "Normal",
        "Description": "\n".join(lines),
    }
    if facts.call_outcome:
        # Salesforce's call result field (Task.CallDisposition, text up to 255).
        record["CallDisposition"] = CALL_OUTCOME_LABELS[CallOutcome(facts.call_outcome)]
    if create:
        record["OwnerId"] = owner_id
        record["TaskSubtype"] = subtype_for(facts.type)
        if who_id:
            record["WhoId"] = who_id
    return _with_key(record, keys, key, create=create)


def activity_record(
    facts: ActivityFacts, *, key: str, keys: KeyFields, owner_id: str, who_id: str, create: bool
) -> Record:
    """A completed Task logging an email or a reply on the Contact or Lead."""
    header = "To" if facts.kind == CrmLinkKind.SENT else "From"
    record: Record = {
        "Subject": activity_subject(facts),
        "Status": "Completed",
        "ActivityDate": facts.on.isoformat(),
        "Priority": "Normal",
        "Description": f"{header}: {facts.address}\n\n{excerpt(facts.body_html)}".strip(),
    }
    if create:
        record.update(OwnerId=owner_id, WhoId=who_id, TaskSubtype="Email")
    return _with_key(record, keys, key, create=create)


def usage_ratio(used: int | None, limit: int | None, seen_at: datetime | None,
                now: datetime) -> float:
    """The share of the allocation used, by the last reading. A reading older than LIMIT_WAIT
    no longer counts (the window rolls), so that the next call takes a fresh one."""
    if used is None or not limit or seen_at is None or now - seen_at >= LIMIT_WAIT:
        return 0.0
    return used / limit


def push_allowed(kind: CrmLinkKind, ratio: float) -> bool:
    """Slow down before the org's allocation runs out: above 90% only the rep's tasks are
    pushed (activity logs wait), above 98% nothing is."""
    if ratio >= STOP_AT:
        return False
    return ratio < SLOW_DOWN_AT or kind == CrmLinkKind.TASK


def pull_allowed(ratio: float) -> bool:
    return ratio < STOP_AT


def retry_delay(attempts: int) -> timedelta:
    """Back-off after a transient failure: 1, 2, 4 ... minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def lookup_since(created_at: datetime) -> datetime:
    """Where a re-create looks for an earlier attempt's record (with room for clock skew)."""
    return created_at - timedelta(hours=1)
