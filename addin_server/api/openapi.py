"""The OpenAPI 3.1 document of /api/v1.

Written by hand from small builders; tests check that every route is documented and that real
responses validate against these schemas, so the document says what the server does.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
NSTR: Schema = {"type": ["string", "null"]}
NINT: Schema = {"type": ["integer", "null"]}
INSTANT: Schema = {"type": "string", "format": "date-time", "pattern": "Z$"}
NINSTANT: Schema = {"type": ["string", "null"], "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}

STEP_TYPES = ["email", "call", "linkedin", "custom"]
SEND_OPTIONS = ["choose_at_launch", "fixed_time", "same_time_as_previous", "manual_task"]

SCHEMAS: dict[str, Schema] = {
    "Errors": obj(["errors"], errors=arr(obj(["field", "message"], field=STR, message=STR))),
    "Settings": obj([], skip_weekends=BOOL, stop_on_reply=BOOL, mark_success_on_reply=BOOL,
                    remove_on_bounce=BOOL, use_recipient_timezone=BOOL,
                    reply_from_same_domain=BOOL, stop_other_campaigns_on_reply=BOOL,
                    sending_window={"type": ["object", "null"], "properties": {
                        "days": arr({"enum": ["mon", "tue", "wed", "thu", "fri", "sat",
                                              "sun"]}),
                        "start": STR, "end": STR}},
                    holiday_countries=arr(STR)),
    "StepIn": obj(
        ["day", "type"], day={"type": "integer", "minimum": 1}, type={"enum": STEP_TYPES},
        send_option={"enum": [*SEND_OPTIONS, None]},
        send_time={"type": ["string", "null"], "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        reply_to_previous=BOOL, subject=STR, body_html=STR, template_id=NINT, instructions=STR,
    ),
    "CampaignIn": obj(["name", "steps"], name=STR, timezone=STR, settings=ref("Settings"),
                      steps=arr(ref("StepIn"))),
    "Step": obj(
        ["position", "day", "type", "send_option", "send_time", "reply_to_previous"],
        position=INT, day=INT, type={"enum": STEP_TYPES},
        send_option={"enum": [*SEND_OPTIONS, None]}, send_time=NSTR,
        reply_to_previous=BOOL, subject=STR, body_html=STR, template_id=NINT,
        instructions=STR,
    ),
    "Campaign": obj(["id", "name", "timezone", "settings", "steps"], id=INT, name=STR,
                    timezone=STR, owner_id=INT, settings=ref("Settings"),
                    steps=arr(ref("Step"))),
    "PersonIn": obj(["email"], email=STR, first_name=STR, last_name=STR, company=STR,
                    title=STR, timezone=NSTR,
                    fields={"type": "object", "additionalProperties": {"type": ["string",
                                                                                "number"]}}),
    "LaunchIn": obj(["people"], people=arr(ref("PersonIn")), start_date=DATE,
                    first_send_at={"type": "string", "format": "date-time"}),
    "LaunchOut": obj(
        ["enrollments", "skipped"],
        enrollments=arr(obj(["id", "email", "status"], id=INT, email=STR, status=STR)),
        skipped=arr(obj(["email", "reason"], email=STR, reason=STR)),
    ),
    "Person": obj(["id", "email"], id=INT, email=STR, first_name=STR, last_name=STR,
                  company=STR, title=STR, timezone=NSTR, fields={"type": "object"},
                  unsubscribed=BOOL),
    "StepState": obj(
        ["position", "day", "type", "send_option", "status", "due_at", "reason"],
        position=INT, day=INT, type=STR, send_option=NSTR,
        status={"description": "a send state (scheduled, queued, sending, unknown, sent, "
                "failed, held, cancelled), a task status (open, completed, skipped, "
                "cancelled), planned or not_planned", "type": "string"},
        due_at={"type": ["string", "null"], "format": "date-time",
                "description": "UTC, for email steps with a time, planned or scheduled"},
        due_date={"type": ["string", "null"], "format": "date"},
        reason={"type": "string", "description": "why a pending step has not gone out yet"},
        send_id=NINT, task_id=NINT,
    ),
    "Enrollment": obj(["id", "status", "person", "steps"], id=INT, campaign_id=INT,
                      status=STR, start_date=DATE, stop_reason=STR, person=ref("Person"),
                      steps=arr(ref("StepState"))),
    "Task": obj(
        ["id", "type", "status", "due_date", "enrollment_id", "person"], id=INT,
        type={"enum": STEP_TYPES}, status={"enum": ["open", "completed", "skipped",
                                                    "cancelled"]},
        title=STR, instructions=STR, due_date=DATE, enrollment_id=INT, position=INT,
        campaign=obj(["id", "name"], id=INT, name=STR),
        person=obj(["email"], id=INT, email=STR, first_name=STR, last_name=STR, company=STR),
    ),
    "Compose": obj(
        ["to", "subject", "body_html", "reply_to"], to=STR, subject=STR, body_html=STR,
        reply_to={"oneOf": [{"type": "null"}, obj(
            ["message_id", "references", "thread_id"], message_id=NSTR, references=STR,
            thread_id=NSTR, provider_message_id=NSTR, subject=STR)]},
        prompts=arr(STR),
    ),
    "TaskResult": obj(["id", "status", "changed"], id=INT, status=STR, changed=BOOL),
    "TemplateIn": obj(["name", "body_html"], name=STR, subject=STR, body_html=STR),
    "Template": obj(["id", "name", "subject", "body_html"], id=INT, name=STR, subject=STR,
                    body_html=STR),
    "PreviewIn": obj([], subject=STR, body_html=STR, template_id=INT, person=ref("PersonIn"),
                     person_email=STR),
    "Preview": obj(["subject", "body_html", "missing_fields"], subject=STR, body_html=STR,
                   missing_fields=arr(STR), prompts=arr(STR)),
    "Event": {"type": "object", "required": ["id", "type", "at"],
              "properties": {"id": INT, "type": STR, "at": INSTANT},
              "additionalProperties": True},
    "Send": obj(
        ["id", "state", "due_at", "reason", "attempts"], id=INT,
        state={"enum": ["scheduled", "queued", "sending", "unknown", "sent", "failed", "held",
                        "cancelled"]},
        due_at=INSTANT, planned_at=NINSTANT, reason=STR, attempts=INT, lease_until=NINSTANT,
        enrollment_id=INT, position=INT, task_id=NINT, mailbox_id=NINT, to=NSTR, subject=NSTR,
        sent_at=NINSTANT, message_id=NSTR, provider_message_id=NSTR, thread_id=NSTR,
        person=obj(["id", "email"], id=INT, email=STR), created=BOOL,
        history=arr(obj(["at", "to"], at=INSTANT, to=STR, note=STR, **{"from": NSTR})),
    ),
    "TaskSendIn": obj(["subject", "body_html"], subject=STR, body_html=STR,
                      send_at={"type": ["string", "null"], "format": "date-time"}),
    "LocalMessage": obj(
        ["id", "draft", "to", "subject", "headers"], id=INT, draft=BOOL, thread_id=NSTR,
        message_id=NSTR, send_id=NSTR, to=STR, subject=STR, created_at=INSTANT,
        sent_at=NINSTANT, headers={"type": "object", "additionalProperties": STR}, text=STR,
    ),
    "Me": obj(["id", "email"], id=INT, email=STR, name=STR, timezone=STR, is_admin=BOOL,
              organisation=obj(["id", "name"], id=INT, name=STR)),
}

ERRORS = {"$ref": "#/components/responses/Errors"}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def op(summary: str, ok: Schema | None, *, status: str = "200", body: Schema | None = None,
       params: list[Schema] | None = None, errors: tuple[str, ...] = ("401", "404")) -> Schema:
    operation: Schema = {"summary": summary, "responses": {}}
    if ok is not None:
        operation["responses"][status] = {"description": "OK", **_json(ok)}
    for code in errors:
        operation["responses"][code] = ERRORS
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if params:
        operation["parameters"] = params
    return operation


def path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": INT}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def paths() -> dict[str, Schema]:
    cid, eid, tid, tpl = (path_id(n) for n in ("campaign_id", "enrollment_id", "task_id",
                                               "template_id"))
    enrollment_action = {"parameters": [eid]}
    launch = op("Add people to the campaign (JSON, or text/csv with the options as query "
                "parameters; a header row, unknown columns become custom fields)",
                ref("LaunchOut"), status="201", errors=("400", "401", "404", "413", "415",
                                                        "422"))
    launch["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": ref("LaunchIn")},
        "text/csv": {"schema": {"type": "string"}}}}
    launch["parameters"] = [cid, query("start_date", DATE, "CSV launches"),
                            query("first_send_at", STR, "CSV launches")]
    return {
        "/campaigns": {
            "get": op("The rep's campaigns (an admin's: the organisation's)",
                      obj(["campaigns"], campaigns=arr(ref("Campaign"))), errors=("401",)),
            "post": op("Create a campaign", ref("Campaign"), status="201",
                       body=ref("CampaignIn"), errors=("400", "401", "413", "415", "422")),
        },
        "/campaigns/{campaign_id}": {
            "parameters": [cid],
            "get": op("A campaign", ref("Campaign")),
            "patch": op("Change a campaign (steps replace the whole list)", ref("Campaign"),
                        body=ref("CampaignIn"), errors=("400", "401", "404", "415", "422")),
        },
        "/campaigns/{campaign_id}/launch": {"post": launch},
        "/campaigns/{campaign_id}/enrollments": {
            "parameters": [cid],
            "get": op("Who is in the campaign", obj(["enrollments"], enrollments=arr(
                obj(["id", "status", "email"], id=INT, status=STR, email=STR)))),
        },
        "/enrollments/{enrollment_id}": {
            "parameters": [eid],
            "get": op("A person's progress: every step's state, time and reason",
                      ref("Enrollment")),
        },
        "/enrollments/{enrollment_id}/pause": {
            **enrollment_action,
            "post": op("Pause", ref("Enrollment"), errors=("401", "404", "409"))},
        "/enrollments/{enrollment_id}/resume": {
            **enrollment_action,
            "post": op("Resume", ref("Enrollment"), errors=("401", "404", "409"))},
        "/enrollments/{enrollment_id}/stop": {
            **enrollment_action,
            "post": op("Stop: cancels pending sends and open tasks", ref("Enrollment"))},
        "/tasks": {
            "get": op("The rep's tasks, email tasks first, then by due date",
                      obj(["tasks"], tasks=arr(ref("Task"))),
                      params=[query("status", {"enum": ["open", "completed", "skipped",
                                                        "cancelled"]}),
                              query("limit", INT), query("offset", INT),
                              query("mine", STR, "1: only the admin's own")],
                      errors=("401", "422")),
        },
        "/tasks/{task_id}": {"parameters": [tid], "get": op("A task", ref("Task"))},
        "/tasks/{task_id}/compose": {
            "parameters": [tid],
            "get": op("The email task as a compose window opens it (prompts kept)",
                      ref("Compose"), errors=("401", "404", "409")),
        },
        "/tasks/{task_id}/complete": {
            "parameters": [tid],
            "post": op("Mark done (once: a repeat changes nothing)", ref("TaskResult"),
                       errors=("401", "404", "409")),
        },
        "/tasks/{task_id}/skip": {
            "parameters": [tid],
            "post": op("Skip (once)", ref("TaskResult"), errors=("401", "404", "409")),
        },
        "/tasks/{task_id}/send": {
            "parameters": [tid],
            "post": op("Send the email task through the rep's mailbox now, or at send_at; a "
                       "repeat (double click) returns the same send with created=false",
                       ref("Send"), status="201", body=ref("TaskSendIn"),
                       errors=("400", "401", "404", "409", "415", "422")),
        },
        "/sends": {
            "get": op("The outbox: automatic emails and sent tasks, by due time",
                      obj(["sends"], sends=arr(ref("Send"))),
                      params=[query("state", STR, "comma-separated states"),
                              query("limit", INT), query("offset", INT), query("mine", STR)],
                      errors=("401", "422")),
        },
        "/sends/{send_id}": {
            "parameters": [path_id("send_id")],
            "get": op("One send: state, due time, why it waits, attempts and history",
                      ref("Send")),
        },
        "/mailbox/messages": {
            "get": op("What the rep's local development mailbox sent, newest first",
                      obj(["messages"], messages=arr(ref("LocalMessage"))),
                      params=[query("drafts", STR, "1: include drafts"), query("limit", INT)],
                      errors=("401", "422")),
        },
        "/mailbox/messages/{message_id}/raw": {
            "parameters": [path_id("message_id")],
            "get": {"summary": "The message as sent (RFC 5322)", "responses": {
                "200": {"description": "OK", "content": {"message/rfc822": {}}},
                "401": ERRORS, "404": ERRORS}},
        },
        "/templates": {
            "get": op("The organisation's templates",
                      obj(["templates"], templates=arr(ref("Template"))), errors=("401",)),
            "post": op("Save a template", ref("Template"), status="201",
                       body=ref("TemplateIn"), errors=("400", "401", "415", "422")),
        },
        "/templates/{template_id}": {
            "parameters": [tpl],
            "get": op("A template", ref("Template")),
            "patch": op("Change a template", ref("Template"), body=ref("TemplateIn"),
                        errors=("400", "401", "404", "415", "422")),
        },
        "/preview": {
            "post": op("Render a subject and body for a person; nothing is saved",
                       ref("Preview"), body=ref("PreviewIn"),
                       errors=("400", "401", "404", "415", "422")),
        },
        "/feed": {
            "get": op("Live Feed events after an id, oldest first",
                      obj(["events"], events=arr(ref("Event"))),
                      params=[query("after", INT), query("limit", INT)],
                      errors=("401", "422")),
        },
        "/me": {"get": op("The signed-in rep", ref("Me"), errors=("401",))},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    }


def _all_paths() -> dict[str, Schema]:
    from addin_server.api import openapi_replies  # replies/unsubscribe/caps part

    SCHEMAS.update(openapi_replies.SCHEMAS)
    return {**paths(), **openapi_replies.paths()}


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "addin-server API", "version": "1",
                 "description": "Sales campaigns sent from the rep's own mailbox. Errors are "
                                "`{\"errors\": [{\"field\", \"message\"}]}`; `field` names the "
                                "input at fault, like `steps[2].send_time`."},
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token from "
                                                          "`addin-server create-rep`"}},
            "schemas": SCHEMAS,
            "responses": {"Errors": {"description": "An error; `field` names the input",
                                     **_json(ref("Errors"))}},
        },
        "paths": _all_paths(),
    }
