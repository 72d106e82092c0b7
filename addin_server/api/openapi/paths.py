"""The paths of the OpenAPI document, one function per resource, in the document's order."""

from __future__ import annotations

from addin_server.api.openapi.builders import (
    DATE,
    ERRORS,
    INT,
    STR,
    Schema,
    arr,
    bounded,
    json_content,
    obj,
    op,
    path_id,
    query,
    ref,
)
from addin_server.validation import MAX_ID

# The task and send lists bring limit and offset into range (api/common.clamped_page).
CLAMPED_PAGE = [query("limit", INT, "brought into 1..1000"),
                query("offset", INT, "brought into 0..2^31-1")]
# The suppression and blocked-domain lists refuse them out of range (checked_page).
CHECKED_PAGE = [query("limit", bounded(1, 1000)), query("offset", bounded(0, MAX_ID))]


def paths() -> dict[str, Schema]:
    return {**_campaigns(), **_enrollments(), **_tasks(), **_sends(), **_templates(),
            **_compose(), **_feed_and_me(), **_suppressions(), **_people(), **_limits(),
            **_reports(), **_organisation()}


def _campaigns() -> dict[str, Schema]:
    """Campaigns, and launching people into one."""
    cid = path_id("campaign_id")
    launch = op("Add people to the campaign (JSON, or text/csv with the options as query "
                "parameters; a header row, unknown columns become custom fields)",
                ref("LaunchOut"), status="201", errors=("400", "401", "404", "409", "413",
                                                        "415", "422"))
    launch["responses"]["202"] = {"description": "a CSV above max_people_per_launch: going on "
                                  "in the background", **json_content(ref("BackgroundLaunch"))}
    launch["responses"]["200"] = {"description": "dry_run: what the launch would do, and its "
                                  "forecast; nothing written", **json_content(ref("LaunchOut"))}
    launch["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": ref("LaunchIn")},
        "text/csv": {"schema": {"type": "string"}}}}
    launch["parameters"] = [cid, query("start_date", DATE, "CSV launches"),
                            query("first_send_at", STR, "CSV launches"),
                            query("dry_run", STR, "CSV launches: true writes nothing"),
                            query("skip_invalid", STR, "CSV launches"),
                            query("check_mx", STR, "CSV launches"),
                            query("columns", STR, "CSV launches: the columns object as JSON"),
                            query("send_past_now", STR, "CSV launches: true sends a past "
                                  "first_send_at now")]
    def action(summary: str) -> Schema:
        return {"parameters": [cid], "post": op(summary, ref("CampaignAction"))}

    return {
        "/campaigns": {
            "get": op("The rep's campaigns (an admin's: the organisation's), archived ones "
                      "left out unless archived=true (then only those), by id, a page at a "
                      "time (200 by default), and how many in all",
                      obj(["campaigns", "total"], campaigns=arr(ref("Campaign")), total=INT),
                      params=[query("archived", STR, "true: the archived campaigns"),
                              *CLAMPED_PAGE],
                      errors=("401", "422")),
            "post": op("Create a campaign", ref("Campaign"), status="201",
                       body=ref("CampaignIn"), errors=("400", "401", "413", "415", "422")),
        },
        "/campaigns/{campaign_id}": {
            "parameters": [cid],
            "get": op("A campaign", ref("Campaign")),
            "patch": op("Change a campaign (steps replace the whole list); the change reaches "
                        "the people in it (live_edit); dry_run=true writes nothing",
                        ref("CampaignChange"), body=ref("CampaignPatch"),
                        params=[query("dry_run", STR, "true: say what the change would do, "
                                      "change nothing")],
                        errors=("400", "401", "404", "415", "422")),
        },
        "/campaigns/{campaign_id}/people": {
            "parameters": [cid],
            "get": op("How many people the campaign's pause, resume and stop would touch",
                      ref("CampaignPeople")),
        },
        "/campaigns/{campaign_id}/pause": action(
            "Pause everyone active in the campaign (a send already being sent finishes)"),
        "/campaigns/{campaign_id}/resume": action(
            "Resume the people the campaign pause paused; those paused one by one stay so"),
        "/campaigns/{campaign_id}/stop": action(
            "End everyone in the campaign; their scheduled emails and open tasks are "
            "cancelled"),
        "/campaigns/{campaign_id}/clone": {
            "parameters": [cid],
            "post": op("A copy with the same steps and settings, nobody in it, named "
                       "'... (copy)'", ref("Campaign"), status="201",
                       errors=("401", "404", "422")),
        },
        "/campaigns/{campaign_id}/archive": {
            "parameters": [cid],
            "post": op("Hide the campaign from the lists (409 while people are in it)",
                       ref("Campaign"), errors=("401", "404", "409")),
        },
        "/campaigns/{campaign_id}/unarchive": {
            "parameters": [cid],
            "post": op("Bring an archived campaign back", ref("Campaign")),
        },
        "/campaigns/{campaign_id}/launch": {"post": launch},
        "/launches/{launch_id}": {
            "parameters": [{"name": "launch_id", "in": "path", "required": True,
                            "schema": STR}],
            "get": op("A background launch: status (queued, running, done, failed), total, "
                      "done, phase, reason; once done its counts, skipped, warnings and "
                      "invalid rows", ref("BackgroundLaunch")),
        },
        "/campaigns/{campaign_id}/breaker/release": {
            "parameters": [cid],
            "post": op("Release a campaign whose bounce breaker stopped starting people",
                       ref("Campaign"), errors=("401", "404", "409")),
        },
        "/campaigns/{campaign_id}/enrollments": {
            "parameters": [cid],
            "get": op("Who is in the campaign, by enrollment id, a page at a time (200 by "
                      "default), and how many in all",
                      obj(["enrollments", "total"], enrollments=arr(
                          obj(["id", "status", "email"], id=INT, status=STR, email=STR)),
                          total=INT),
                      params=[*CLAMPED_PAGE]),
        },
    }


def _enrollments() -> dict[str, Schema]:
    """A person's progress, and pause, resume, stop."""
    eid = path_id("enrollment_id")
    enrollment_action = {"parameters": [eid]}
    return {
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
        "/enrollments/bulk": {
            "post": op("Pause, resume or stop up to 10,000 enrollments in one request and "
                       "one transaction, by ids or by a Command Center list's filter (every "
                       "one it matches, as the list counts them); those whose state does not "
                       "allow it are listed in unchanged",
                       obj(["matched", "changed", "unchanged"], matched=INT,
                           changed=arr(obj(["id", "status"], id=INT, status=STR)),
                           unchanged=arr(obj(["id", "message"], id=INT, message=STR))),
                       body=ref("BulkEnrollmentsIn"),
                       errors=("400", "401", "415", "422"))},
    }


def _tasks() -> dict[str, Schema]:
    """Tasks, and sending an email task."""
    tid = path_id("task_id")
    return {
        "/tasks": {
            "get": op("The rep's tasks, email tasks first, then by due date, a page at a "
                      "time, and how many in all",
                      obj(["tasks", "total"], tasks=arr(ref("Task")), total=INT),
                      params=[query("status", {"enum": ["open", "completed", "skipped",
                                                        "cancelled"]}),
                              *CLAMPED_PAGE, query("mine", STR, "1: only the admin's own")],
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
            "post": {**op("Mark done (once: a repeat changes nothing). The body is optional: a "
                          "call task's outcome and any task's note (both go to Salesforce as "
                          "the Task's CallDisposition and Description, and into the report). "
                          "While the task's email is in the outbox: 409 on field `send` (the "
                          "task completes when it goes) unless the body has "
                          "{\"cancel_send\": true}, which cancels the email first",
                          ref("TaskResult"), errors=("400", "401", "404", "409", "415", "422")),
                     "requestBody": {"required": False,
                                     **json_content(ref("TaskCompleteIn"))}},
        },
        "/tasks/{task_id}/skip": {
            "parameters": [tid],
            "post": op("Skip (once); an email scheduled for the task is cancelled (reason: the "
                       "rep skipped the task); 409 when it is already being sent",
                       ref("TaskResult"), errors=("401", "404", "409")),
        },
        "/tasks/{task_id}/send": {
            "parameters": [tid],
            "post": op("Send the email task through the rep's mailbox now, or at send_at (a "
                       "time already past is refused: 422 on send_at, shown in the rep's "
                       "zone); a repeat (double click) returns the same send with "
                       "created=false",
                       ref("Send"), status="201", also="200", body=ref("TaskSendIn"),
                       errors=("400", "401", "404", "409", "415", "422")),
        },
    }


def _sends() -> dict[str, Schema]:
    """The outbox, and what the local development mailbox sent."""
    return {
        "/sends": {
            "get": op("The outbox: automatic emails and sent tasks, by due time, a page at "
                      "a time, and how many match in all",
                      obj(["sends", "total"], sends=arr(ref("Send")), total=INT),
                      params=[query("state", STR, "comma-separated states"), *CLAMPED_PAGE,
                              query("mine", STR)],
                      errors=("401", "422")),
        },
        "/sends/{send_id}": {
            "parameters": [path_id("send_id")],
            "get": op("One send: state, due time, why it waits, attempts and history; a held "
                      "one with `held`: its missing fields, the email with them marked and as "
                      "the default text would send it",
                      ref("Send")),
            "patch": op("Until it is claimed (scheduled or held): reschedule it (send_at; a "
                        "past time is 422) and, for an email the rep wrote (a task's), change "
                        "subject and body_html (an automatic email's text is its step's: 422). "
                        "409 once it is queued, sending or done",
                        ref("Send"), body=ref("SendPatchIn"),
                        errors=("400", "401", "404", "409", "415", "422")),
        },
        "/sends/{send_id}/cancel": {
            "parameters": [path_id("send_id")],
            "post": op("Cancel it until it is claimed (reason: cancelled by the rep); an "
                       "automatic email's person moves on to the next step, a task stays open "
                       "to send again or skip. 409 once it is sending or done",
                       ref("Send"), errors=("401", "404", "409")),
        },
        "/sends/{send_id}/release": {
            "parameters": [path_id("send_id")],
            "post": {**op("Release a held send (a merge field had no value): `fields` are "
                          "saved on its person, then it is due now and goes out through the "
                          "pipeline, once. A field the email needs still without a value is "
                          "422 on fields.<name> unless use_defaults (it then goes blank, as "
                          "held.default_body_html of GET /sends/{send_id} shows). 409 when it "
                          "is no longer held",
                          ref("Send"), errors=("400", "401", "404", "409", "415", "422")),
                     "requestBody": {"required": False, **json_content(ref("SendReleaseIn"))}},
        },
        "/sends/{send_id}/skip": {
            "parameters": [path_id("send_id")],
            "post": op("Skip the step of a held send: it is cancelled and its person moves on "
                       "to the next step. 409 when it is no longer held",
                       ref("Send"), errors=("401", "404", "409")),
        },
        "/mailbox/messages": {
            "get": op("What the rep's local development mailbox sent, and what arrived in it "
                      "(inbound: DEV_MODE's simulated answers), newest first",
                      obj(["messages"], messages=arr(ref("LocalMessage"))),
                      params=[query("drafts", STR, "1: include drafts"),
                              query("limit", INT, "brought into 1..1000")],
                      errors=("401", "422")),
        },
        "/mailbox/messages/{message_id}/raw": {
            "parameters": [path_id("message_id")],
            "get": {"summary": "The message as sent (RFC 5322)", "responses": {
                "200": {"description": "OK", "content": {"message/rfc822": {}}},
                "401": ERRORS, "404": ERRORS}},
        },
    }


def _templates() -> dict[str, Schema]:
    """Saved templates, and the preview."""
    tpl = path_id("template_id")
    return {
        "/templates": {
            "get": op("The templates the rep may use: their own and the shared ones (an "
                      "admin's: the organisation's), a page at a time (200 by default), and "
                      "how many in all",
                      obj(["templates", "total"], templates=arr(ref("Template")), total=INT),
                      params=[query("q", STR, "part of the name or subject"),
                              query("shared", {"enum": ["", "0", "1"]},
                                    "1: only shared, 0: only private"),
                              *CLAMPED_PAGE],
                      errors=("401", "422")),
            "post": op("Save a template (shared: admins only)", ref("Template"), status="201",
                       body=ref("TemplateIn"), errors=("400", "401", "403", "415", "422")),
        },
        "/templates/{template_id}": {
            "parameters": [tpl],
            "get": op("A template the rep may use", ref("Template")),
            "patch": op("Change a template (a shared one: admins; sharing: admins)",
                        ref("Template"), body=ref("TemplatePatch"),
                        errors=("400", "401", "403", "404", "415", "422")),
            "delete": op("Delete a template; 409 naming the campaigns and steps while a live "
                         "step uses it; steps nobody will reach keep its text",
                         ref("TemplateDeleted"), errors=("401", "403", "404", "409")),
        },
        "/templates/{template_id}/duplicate": {
            "parameters": [tpl],
            "post": op("A private copy of a template for the caller", ref("Template"),
                       status="201"),
        },
        "/preview": {
            "post": op("Render a subject and body for a person; nothing is saved",
                       ref("Preview"), body=ref("PreviewIn"),
                       errors=("400", "401", "404", "415", "422")),
        },
    }


def _compose() -> dict[str, Schema]:
    """What compose inserts and attaches: snippets, uploaded files, the rep's signature."""
    sid, aid = path_id("snippet_id"), path_id("attachment_id")
    upload = op("Upload a file to attach to an email (multipart/form-data, field `file`; at "
                "most 25 MB)", ref("AttachmentOut"), status="201",
                errors=("401", "413", "415", "422"))
    upload["requestBody"] = {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    return {
        "/snippets": {
            "get": op("The rep's snippets and the organisation's shared ones",
                      obj(["snippets"], snippets=arr(ref("Snippet"))), errors=("401",)),
            "post": op("Save a snippet", ref("Snippet"), status="201", body=ref("SnippetIn"),
                       errors=("400", "401", "415", "422")),
        },
        "/snippets/{snippet_id}": {
            "parameters": [sid],
            "get": op("A snippet", ref("Snippet")),
            "patch": op("Change a snippet (its owner; an admin for shared ones)",
                        ref("Snippet"), body=ref("SnippetPatch"),
                        errors=("400", "401", "403", "404", "415", "422")),
            "delete": {"summary": "Delete a snippet (its owner; an admin for shared ones)",
                       "responses": {"204": {"description": "Deleted"}, "401": ERRORS,
                                     "403": ERRORS, "404": ERRORS}},
        },
        "/attachments": {"post": upload},
        "/attachments/{attachment_id}": {
            "parameters": [aid],
            "get": op("An uploaded file (its description)", ref("AttachmentOut")),
            "delete": {"summary": "Remove an uploaded file not yet on an email",
                       "responses": {"204": {"description": "Removed"}, "401": ERRORS,
                                     "404": ERRORS, "409": ERRORS}},
        },
        "/me/signature": {
            "get": op("The rep's signature", ref("Signature"), errors=("401",)),
            "patch": op("Change the rep's signature (sanitised HTML; empty removes it)",
                        ref("Signature"), body=ref("SignatureIn"),
                        errors=("400", "401", "415", "422")),
        },
    }


def _feed_and_me() -> dict[str, Schema]:
    """The Live Feed, the signed-in rep, and this document."""
    return {
        "/feed": {
            "get": op("Live Feed events after an id, oldest first",
                      obj(["events"], events=arr(ref("Event"))),
                      params=[query("after", INT, "brought into 0..2^31-1"),
                              query("limit", INT, "brought into 1..500")],
                      errors=("401", "422")),
        },
        "/me": {"get": op("The signed-in rep", ref("Me"), errors=("401",))},
        "/me/sessions/end": {"post": {
            "summary": "Sign out everywhere: every web session of the rep ends (API tokens stay)",
            "responses": {"204": {"description": "Every web session ended"}, "401": ERRORS}}},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    }


def _suppressions() -> dict[str, Schema]:
    """The suppression list and blocked domains."""
    email = {"name": "email", "in": "path", "required": True, "schema": STR}
    domain = {"name": "domain", "in": "path", "required": True, "schema": STR}
    return {
        "/suppressions": {
            "get": op("The organisation's suppression list (never emailed), with who added "
                      "each, when and why; total counts every match",
                      obj(["suppressions", "total"], suppressions=arr(ref("Suppression")),
                          total=INT),
                      params=[*CHECKED_PAGE, query("q", STR, "part of an address"),
                              query("reason", {"enum": ["", "unsubscribed", "manual",
                                                        "bounced"]})],
                      errors=("401", "422")),
            "post": op("Suppress an address; their live campaigns stop (200: already "
                       "suppressed)", ref("Suppression"), also="200",
                       status="201", body=ref("SuppressionIn"),
                       errors=("400", "401", "415", "422")),
        },
        "/suppressions/bulk": {
            "post": op("Suppress many addresses (admins): a list or a CSV's text; nothing is "
                       "added unless every line is good (422 names each bad one); their live "
                       "campaigns stop (200: all were suppressed already)",
                       ref("BulkAdded"), status="201", also="200", body=ref("BulkListIn"),
                       errors=("400", "401", "403", "413", "415", "422")),
        },
        "/suppressions/{email}": {
            "parameters": [email],
            "delete": op("Lift a suppression (admins; an unsubscribe cannot be lifted)",
                         ref("Removed"), errors=("401", "403", "404", "409")),
        },
        "/blocked-domains": {
            "get": op("Domains never emailed; total counts every match",
                      obj(["blocked_domains", "total"], blocked_domains=arr(
                          ref("BlockedDomain")), total=INT),
                      params=[*CHECKED_PAGE, query("q", STR, "part of a domain")],
                      errors=("401", "422")),
            "post": op("Block a domain and its subdomains (admins; 200: already blocked)",
                       ref("BlockedDomain"), also="200",
                       status="201", body=ref("BlockedDomainIn"),
                       errors=("400", "401", "403", "415", "422")),
        },
        "/blocked-domains/bulk": {
            "post": op("Block many domains (admins), as /suppressions/bulk",
                       ref("BulkAdded"), status="201", also="200", body=ref("BulkListIn"),
                       errors=("400", "401", "403", "413", "415", "422")),
        },
        "/blocked-domains/{domain}": {
            "parameters": [domain],
            "delete": op("Unblock a domain (admins)", ref("Removed"),
                         errors=("401", "403", "404")),
        },
    }


def _people() -> dict[str, Schema]:
    """People: the list, one person's page, their fields, unsubscribe, simulated answers
    (DEV_MODE), and their other addresses."""
    pid = path_id("person_id")
    email = {"name": "email", "in": "path", "required": True, "schema": STR}
    return {
        "/people": {
            "get": op("The people the caller may see, by id, with the true total of those "
                      "matching q (address, names, company)", ref("People"), errors=("401",),
                      params=[query("q", STR, "search text"), *CLAMPED_PAGE]),
        },
        "/people/{person_id}": {
            "parameters": [pid],
            "get": op("One person: fields, other addresses, every campaign with each step's "
                      "state and why, the thread (our emails and what came back), and why "
                      "they were stopped or held", ref("PersonDetail")),
            "patch": op("Change names, company, title, time zone, custom fields (owner or "
                        "admin)", ref("PersonDetail"), body=ref("PersonPatch"),
                        errors=("400", "401", "403", "404", "415", "422")),
        },
        "/people/{person_id}/unsubscribe": {
            "parameters": [pid],
            "post": op("Unsubscribe the person: suppressed, every live campaign ends (owner or "
                       "admin)", ref("PersonDetail"), errors=("401", "403", "404")),
        },
        "/people/{person_id}/simulate": {
            "parameters": [pid],
            "post": op("DEV_MODE only (404 otherwise): the person replies to, bounces or is out "
                       "of office for one of our emails sent from the local mailbox, through "
                       "the real inbound path", ref("Simulated"), body=ref("SimulateIn"),
                       errors=("400", "401", "404", "409", "415", "422")),
        },
        "/people/{person_id}/addresses": {
            "parameters": [pid],
            "get": op("Other addresses of a person (a reply from one counts as theirs)",
                      ref("PersonAddresses")),
            "post": op("Add another address of the person (200: already theirs)",
                       ref("PersonAddresses"), also="200",
                       status="201", body=ref("PersonAddressIn"),
                       errors=("400", "401", "404", "409", "415", "422")),
        },
        "/people/{person_id}/addresses/{email}": {
            "parameters": [pid, email],
            "delete": op("Remove one of the person's other addresses", ref("PersonAddresses")),
        },
    }


def _limits() -> dict[str, Schema]:
    """A mailbox's sending limits and forecast."""
    mid = path_id("mailbox_id")
    return {
        "/mailboxes/{mailbox_id}/limits": {
            "parameters": [mid],
            "get": op("A mailbox's daily cap and pacing", ref("MailboxLimits")),
            "patch": op("Change a mailbox's daily cap and pacing", ref("MailboxLimits"),
                        body=ref("MailboxLimitsIn"), errors=("400", "401", "404", "415", "422")),
        },
        "/bounces/held": {
            "get": op("Bursts of bounce reports held for review, by provider (admins)",
                      obj(["bursts"], bursts=arr(obj(["provider", "bounces"], provider=STR,
                                                     bounces=INT, first_at=STR, last_at=STR))),
                      errors=("401", "403")),
        },
        "/bounces/held/release": {
            "post": op("Release a held burst: every person it held resumes (admins)",
                       obj(["provider", "resumed"], provider=STR, resumed=INT),
                       body=ref("BurstReleaseIn"),
                       errors=("400", "401", "403", "415", "422")),
        },
        "/mailboxes/{mailbox_id}/breaker/release": {
            "parameters": [mid],
            "post": op("Release a mailbox paused by its bounce breaker (a domain's: admins)",
                       ref("MailboxLimits"), errors=("401", "403", "404", "409")),
        },
        "/deliverability": {
            "get": op("The organisation's deliverability settings and today's bulk-sender "
                      "meter per primary sending domain", ref("Deliverability"),
                      errors=("401",)),
        },
        "/deliverability/settings": {
            "patch": op("Change the organisation's deliverability settings (admins)",
                        ref("Deliverability"), body=ref("DeliverabilitySettingsIn"),
                        errors=("400", "401", "403", "415", "422")),
        },
        "/mailboxes/{mailbox_id}/forecast": {
            "parameters": [mid],
            "get": op("Sends due and expected per day for the next 7 days (rep's zone)",
                      ref("Forecast")),
        },
    }


def _reports() -> dict[str, Schema]:
    """Results: a campaign's report and the mailboxes' health, as JSON or CSV."""
    csv = "; with Accept: text/csv, a CSV (one row per step, or per mailbox)"
    return {
        "/campaigns/{campaign_id}/report": {
            "parameters": [path_id("campaign_id")],
            "get": op("The campaign's funnel, one row per step and sends and replies per day"
                      + csv, ref("CampaignReport"),
                      params=[query("from", DATE, "first day (campaign's zone), included"),
                              query("to", DATE, "last day, included"),
                              query("rep_id", INT, "only this rep's people")],
                      errors=("401", "404", "422")),
        },
        "/reports/mailboxes": {
            "get": op("Each mailbox (the organisation's for an admin): sent today and in 7 "
                      "days against its cap, reply and bounce rates over 30 days, paused "
                      "or disconnected time" + csv,
                      obj(["mailboxes"], mailboxes=arr(ref("MailboxReport"))),
                      errors=("401",)),
        },
    }



def _organisation() -> dict[str, Schema]:
    """The organisation's settings (admins)."""
    return {
        "/organisation": {
            "get": op("The organisation's settings: what new campaigns start from, who may "
                      "launch on a colleague's campaign, its own domains (admins)",
                      ref("OrganisationSettings"), errors=("401", "403")),
            "patch": op("Change the organisation's settings (admins; only keys given change; "
                        "domains must keep the caller's own)",
                        ref("OrganisationSettings"), body=ref("OrganisationPatch"),
                        errors=("400", "401", "403", "413", "415", "422")),
        },
    }
