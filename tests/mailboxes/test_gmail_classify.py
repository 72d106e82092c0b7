"""The one Gmail error classifier (mailboxes.gmail.classify) on Google's answers as they come:
real `HttpError`s of the client library, built from a status and a body."""

from __future__ import annotations

import json
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from addin_server.mailboxes.gmail import MissingScope, NotFound, classify
from addin_server.mailboxes.port import (
    AuthError,
    MailboxError,
    PermanentError,
    TransientError,
)

# Google's answer to a token without the scope: both the legacy `errors` list and an ErrorInfo
# in `details` (the client library's `error_details` keeps only `details`).
SCOPE_403 = {"error": {
    "code": 403, "message": "Request had insufficient authentication scopes.",
    "errors": [{"message": "Insufficient Permission", "domain": "global",
                "reason": "insufficientPermissions"}],
    "status": "PERMISSION_DENIED",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                 "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com"}]}}


def _http_error(status: int, body: dict[str, Any]) -> HttpError:
    return HttpError(httplib2.Response({"status": status}), json.dumps(body).encode(), uri="")


@pytest.mark.parametrize(("status", "body", "kind"), [
    (403, SCOPE_403, MissingScope),
    # no `message`: the library reads no details at all; the reason still counts
    (403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                     "errors": [{"reason": "insufficientPermissions"}]}}, MissingScope),
    (403, {"error": {"code": 403, "message": "blocked", "errors": [{"reason": "domainPolicy"}]}},
     AuthError),
    (403, {"error": {"code": 403, "message": "Delegation denied",
                     "status": "PERMISSION_DENIED"}}, PermanentError),
    (401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, AuthError),
    (404, {"error": {"code": 404, "message": "Not Found"}}, NotFound),
    (500, {"error": {"code": 500, "message": "backend error"}}, TransientError),
])
def test_an_answer_is_classified_with_its_status(
    status: int, body: dict[str, Any], kind: type[MailboxError]
) -> None:
    error = classify(_http_error(status, body), sending=False)
    assert type(error) is kind
    assert error.status == status


def test_a_scope_error_is_an_auth_error_for_the_mailbox() -> None:
    # The send pipeline holds the mailbox for reconnection on any AuthError.
    assert isinstance(classify(_http_error(403, SCOPE_403), sending=True), AuthError)


def test_no_answer_has_no_status() -> None:
    error = classify(TimeoutError("timed out"), sending=True)
    assert isinstance(error, TransientError) and error.may_have_sent and error.status is None
