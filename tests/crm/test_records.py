"""The pure rules of the Salesforce sync: what a Task says, when to push, how long to wait."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from addin_server.crm import records as rules
from addin_server.crm.port import KeyFields
from addin_server.enums import CrmLinkKind, StepType, TaskStatus

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
FACTS = rules.TaskFacts(title="Call (step 2, day 3)", campaign="Q4", person_email="p@x.test",
                        type=StepType.CALL, status=TaskStatus.OPEN, due_date=date(2026, 11, 26),
                        instructions="Ask about budget")


@pytest.mark.parametrize(("used", "limit", "kind", "allowed"), [
    (None, None, CrmLinkKind.SENT, True),  # no reading yet
    (8_999, 10_000, CrmLinkKind.SENT, True),
    (9_000, 10_000, CrmLinkKind.SENT, False),  # 90%: activity logs wait
    (9_000, 10_000, CrmLinkKind.REPLY, False),
    (9_000, 10_000, CrmLinkKind.TASK, True),  # the rep's tasks still go
    (9_799, 10_000, CrmLinkKind.TASK, True),
    (9_800, 10_000, CrmLinkKind.TASK, False),  # 98%: nothing goes
    (10_500, 10_000, CrmLinkKind.TASK, False),
])
def test_push_allowed_by_the_allocation(used: int | None, limit: int | None,
                                        kind: CrmLinkKind, allowed: bool) -> None:
    ratio = rules.usage_ratio(used, limit, NOW if used is not None else None, NOW)
    assert rules.push_allowed(kind, ratio) is allowed


def test_an_old_reading_no_longer_counts() -> None:
    assert rules.usage_ratio(9_900, 10_000, NOW - timedelta(minutes=29), NOW) == 0.99
    assert rules.usage_ratio(9_900, 10_000, NOW - timedelta(minutes=30), NOW) == 0.0
    assert rules.pull_allowed(0.979) and not rules.pull_allowed(0.98)


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60),
                                                   (30, 60)])
def test_retry_delay_doubles_up_to_an_hour(attempts: int, minutes: int) -> None:
    assert rules.retry_delay(attempts) == timedelta(minutes=minutes)


@pytest.mark.parametrize(("status", "sf"), [(TaskStatus.OPEN, "Not Started"),
                                            (TaskStatus.COMPLETED, "Completed"),
                                            (TaskStatus.SKIPPED, "Completed"),
                                            (TaskStatus.CANCELLED, "Completed")])
def test_task_status_mapping(status: TaskStatus, sf: str) -> None:
    assert rules.sf_status(status) == sf


def test_a_task_record_on_create_and_on_update() -> None:
    keys = KeyFields("upsert", "Sync_Key__c")
    created = rules.task_record(FACTS, key="as-task-9", keys=keys, owner_id="005A",
                                who_id="003B", create=True)
    assert created == {
        "Subject": "Call (step 2, day 3) · Q4", "Status": "Not Started",
        "ActivityDate": "2026-11-26", "Priority": "Normal",
        "Description": "Ask about budget\nCampaign: Q4\nPerson: p@x.test",
        "OwnerId": "005A", "TaskSubtype": "Call", "WhoId": "003B", "Sync_Key__c": "as-task-9"}
    updated = rules.task_record(FACTS, key="as-task-9", keys=keys, owner_id="005A",
                                who_id="003B", create=False)
    assert set(updated) == {"Subject", "Status", "ActivityDate", "Priority", "Description"}


def test_without_a_field_the_key_rides_in_the_description_every_time() -> None:
    keys = KeyFields("description")
    for create in (True, False):
        record = rules.task_record(FACTS, key="as-task-9", keys=keys, owner_id="005A",
                                   who_id=None, create=create)
        assert record["Description"].endswith("\n\n[sync-key:as-task-9]")
        assert "WhoId" not in record


@pytest.mark.parametrize(("step", "subtype"), [(StepType.EMAIL, "Email"), (StepType.CALL, "Call"),
                                               (StepType.LINKEDIN, "Task"),
                                               (StepType.CUSTOM, "Task")])
def test_task_subtype(step: StepType, subtype: str) -> None:
    assert rules.subtype_for(step) == subtype


def test_an_activity_record_is_a_completed_email_task_with_an_excerpt() -> None:
    facts = rules.ActivityFacts(kind=CrmLinkKind.REPLY, subject="", address="p@x.test",
                                body_html="<p>Yes &amp; thanks</p>", on=date(2026, 11, 24))
    record = rules.activity_record(facts, key="as-reply-3", keys=KeyFields("field", "K__c"),
                                   owner_id="005A", who_id="00QC", create=True)
    assert record == {"Subject": "Reply: (no subject)", "Status": "Completed",
                      "ActivityDate": "2026-11-24", "Priority": "Normal",
                      "Description": "From: p@x.test\n\nYes & thanks", "OwnerId": "005A",
                      "WhoId": "00QC", "TaskSubtype": "Email", "K__c": "as-reply-3"}


def test_long_subjects_are_cut_to_salesforce_s_255() -> None:
    facts = rules.ActivityFacts(kind=CrmLinkKind.SENT, subject="x" * 400, address="a@b.test",
                                body_html="", on=date(2026, 11, 24))
    assert len(rules.activity_subject(facts)) == 255


def test_a_completed_call_carries_its_disposition_and_the_note_first() -> None:
    facts = rules.TaskFacts(
        title="Call", campaign="Q4", person_email="pat@example.test", type=StepType.CALL,
        status=TaskStatus.COMPLETED, due_date=date(2026, 11, 24), instructions="Ask about budget",
        call_outcome="left_voicemail", note="Call back Friday")
    record = rules.task_record(facts, key="k", keys=KeyFields("field", "Key__c"),
                                 owner_id="005", who_id=None, create=False)
    assert record["CallDisposition"] == "Left voicemail"
    assert record["Description"].splitlines()[:2] == ["Call back Friday", "Ask about budget"]
