"""OpenAPI entries of the replies/unsubscribe/caps part, merged into openapi.py's document."""

from __future__ import annotations

from addin_server.api.openapi import (
    DATE,
    INT,
    NINT,
    STR,
    Schema,
    arr,
    obj,
    op,
    path_id,
    query,
    ref,
)

SCHEMAS: dict[str, Schema] = {
    "Suppression": obj(["email", "reason"], email=STR,
                       reason={"enum": ["unsubscribed", "manual", "bounced"]}, note=STR,
                       created_at=STR),
    "SuppressionIn": obj(["email"], email=STR, note=STR),
    "BlockedDomain": obj(["domain"], domain=STR, note=STR, created_at=STR),
    "BlockedDomainIn": obj(["domain"], domain=STR, note=STR),
    "Removed": obj(["removed"], removed=STR),
    "PersonAddresses": obj(["person_id", "email", "addresses"], person_id=INT, email=STR,
                           addresses=arr(STR)),
    "PersonAddressIn": obj(["email"], email=STR),
    "MailboxLimits": obj(["id", "address", "daily_cap", "min_gap_seconds", "batch_size",
                          "batch_wait_seconds"], id=INT, address=STR, daily_cap=NINT,
                         min_gap_seconds=INT, batch_size=NINT, batch_wait_seconds=INT),
    "MailboxLimitsIn": obj([], daily_cap=NINT, min_gap_seconds=INT, batch_size=NINT,
                           batch_wait_seconds=INT),
    "Forecast": obj(["mailbox_id", "days"], mailbox_id=INT, address=STR, daily_cap=NINT,
                    min_gap_seconds=INT, batch_size=NINT, batch_wait_seconds=INT,
                    days=arr(obj(["date", "due", "expected"], date=DATE,
                                 due={"type": "integer", "description": "sends due that day"},
                                 expected={"type": "integer", "description":
                                           "sends expected to go that day under the cap, "
                                           "pacing and sending windows"}))),
}



def paths() -> dict[str, Schema]:
    mid, pid = path_id("mailbox_id"), path_id("person_id")
    email = {"name": "email", "in": "path", "required": True, "schema": STR}
    domain = {"name": "domain", "in": "path", "required": True, "schema": STR}
    return {
        "/suppressions": {
            "get": op("The organisation's suppression list (never emailed)",
                      obj(["suppressions"], suppressions=arr(ref("Suppression"))),
                      params=[query("limit", INT), query("offset", INT)],
                      errors=("401", "422")),
            "post": op("Suppress an address; their live campaigns stop", ref("Suppression"),
                       status="201", body=ref("SuppressionIn"),
                       errors=("400", "401", "415", "422")),
        },
        "/suppressions/{email}": {
            "parameters": [email],
            "delete": op("Lift a suppression (admins; an unsubscribe cannot be lifted)",
                         ref("Removed"), errors=("401", "403", "404", "409")),
        },
        "/blocked-domains": {
            "get": op("Domains never emailed", obj(["blocked_domains"], blocked_domains=arr(
                ref("BlockedDomain"))), errors=("401",)),
            "post": op("Block a domain and its subdomains (admins)", ref("BlockedDomain"),
                       status="201", body=ref("BlockedDomainIn"),
                       errors=("400", "401", "403", "415", "422")),
        },
        "/blocked-domains/{domain}": {
            "parameters": [domain],
            "delete": op("Unblock a domain (admins)", ref("Removed"),
                         errors=("401", "403", "404")),
        },
        "/people/{person_id}/addresses": {
            "parameters": [pid],
            "get": op("Other addresses of a person (a reply from one counts as theirs)",
                      ref("PersonAddresses")),
            "post": op("Add another address of the person", ref("PersonAddresses"),
                       status="201", body=ref("PersonAddressIn"),
                       errors=("400", "401", "404", "409", "415", "422")),
        },
        "/people/{person_id}/addresses/{email}": {
            "parameters": [pid, email],
            "delete": op("Remove one of the person's other addresses", ref("PersonAddresses")),
        },
        "/mailboxes/{mailbox_id}/limits": {
            "parameters": [mid],
            "get": op("A mailbox's daily cap and pacing", ref("MailboxLimits")),
            "patch": op("Change a mailbox's daily cap and pacing", ref("MailboxLimits"),
                        body=ref("MailboxLimitsIn"), errors=("400", "401", "404", "415", "422")),
        },
        "/mailboxes/{mailbox_id}/forecast": {
            "parameters": [mid],
            "get": op("Sends due and expected per day for the next 7 days (rep's zone)",
                      ref("Forecast")),
        },
    }
