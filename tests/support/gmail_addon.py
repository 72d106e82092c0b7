"""Test data for the Gmail add-on: the ID tokens Google sends with each event (claims; signed
with `tests.fakes.google.sign`), event payloads from gmail_addon/samples, and the add-on's view
of the rep's mailbox in the Google fake (`GmailView`)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.fakes.google import GoogleFake
from tests.fakes.mail import parse

SAMPLES = Path(__file__).resolve().parents[2] / "gmail_addon" / "samples"
SERVICE_ACCOUNT = "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "123456789012-abc.apps.googleusercontent.com"


def system_claims(audience: str, **overrides: Any) -> dict[str, Any]:
    # Tokens are checked by google-auth against the real clock: an hour of validity is plenty.
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "azp": "1000000000",
              "email": SERVICE_ACCOUNT, "email_verified": True, "sub": "1000000000",
              "iat": now - 10, "exp": now + 3600}
    claims.update(overrides)
    return claims


def user_claims(email: str, sub: str = "user-sub-1", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "accounts.google.com", "aud": CLIENT_ID, "email": email,
              "email_verified": True, "sub": sub, "iat": now - 10, "exp": now + 3600}
    claims.update(overrides)
    return claims


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A sample event from gmail_addon/samples with tokens and parts replaced."""
    data: dict[str, Any] = copy.deepcopy(json.loads((SAMPLES / f"{name}.json").read_text()))
    common = data["commonEventObject"]
    auth = data["authorizationEventObject"]
    if "user_token" in changes:
        auth["userIdToken"] = changes.pop("user_token")
    if "params" in changes:
        common["parameters"] = changes.pop("params")
    if "form" in changes:
        common["formInputs"] = changes.pop("form")
    if "scopes" in changes:
        auth["authorizedScopes"] = changes.pop("scopes")
    for key, value in changes.pop("gmail", {}).items():
        if value is None:
            data["gmail"].pop(key, None)
        else:
            data["gmail"][key] = value
    assert not changes, changes
    return data


def string_input(value: str) -> dict[str, Any]:
    return {"stringInputs": {"value": [value]}}


def datetime_input(moment: dt.datetime) -> dict[str, Any]:
    return {"dateTimeInput": {"msSinceEpoch": str(int(moment.timestamp() * 1000)),
                              "hasDate": True, "hasTime": True}}


# --- the Gmail side, through the Google fake -------------------------------------------------

# The access tokens the add-on calls Gmail with: the sample events' userOAuthToken, and the one
# the tests' own Gmail services use (the Sent items pass).
ADDON_TOKENS = ("ya29.sample-user-token", "mailbox-token")


class GmailView:
    """The rep's mailbox in the Google fake, as the add-on tests read it: the drafts the add-on
    made, every Gmail API request, messages the test puts there, a failure of the next call.

    The add-on's tokens are valid there for `address`, with every Gmail scope (the add-on checks
    the scopes an event grants itself).
    """

    def __init__(self, google: GoogleFake, address: str) -> None:
        self.google, self.address = google, address
        for token in ADDON_TOKENS:
            google.grant_access_token(address, token)

    @property
    def drafts(self) -> dict[str, dict[str, Any]]:
        """draft id -> {"message_id", "threadId", "raw"}, as drafts.create left them."""
        box = self.google.mailbox(self.address)
        return {draft_id: {"message_id": mid, "threadId": box.messages[mid].thread_id,
                           "raw": box.messages[mid].raw}
                for draft_id, mid in box.drafts.items()}

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.google.api_requests

    def draft_mime(self, draft_id: str) -> EmailMessage:
        return parse(self.drafts[draft_id]["raw"])

    def add_message(self, raw: bytes, *, thread_id: str | None = None,
                    labels: tuple[str, ...] = ("INBOX",), internal_ms: int = 0) -> str:
        return self.google.put(self.address, raw, labels=labels, thread_id=thread_id,
                               internal_ms=internal_ms).id

    def fail_next(self, status: int, body: dict[str, Any]) -> None:
        """The next Gmail API call, whichever it is, answers `status` with `body`."""
        self.google.fail("gmail.*", status, body=body)
