"""Push endpoints (public: the providers call them). Each one only enqueues the mailbox's poll.

POST /push/gmail?token=<PUSH_TOKEN>  a Pub/Sub push subscription's delivery: base64 JSON
                                     {emailAddress, historyId} in message.data.
POST /push/graph                     Graph change and lifecycle notifications; answers the
                                     validationToken handshake; checks each clientState.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from addin_server.enums import MailboxProvider
from addin_server.inbound.push import client_state, legacy_client_state
from addin_server.models import Mailbox
from addin_server.runtime import runtime
from addin_server.web.common import ApiError, db
from addin_server.workers.polls import enqueue_poll

bp = Blueprint("push", __name__)


@bp.post("/push/gmail")
def gmail_push() -> ResponseReturnValue:
    expected = runtime().settings.push_token
    given = request.args.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "unknown push token", "token")
    envelope: Any = request.get_json(silent=True)
    try:
        data = json.loads(base64.b64decode(envelope["message"]["data"]))
        address = str(data["emailAddress"]).lower()
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ApiError(400, "not a Pub/Sub push of a Gmail notification", "message") from exc
    for mailbox_id in db().scalars(select(Mailbox.id).where(
            Mailbox.provider == MailboxProvider.GMAIL, Mailbox.address == address)):
        enqueue_poll(runtime(), mailbox_id, throttle=False)
    return "", 204


@bp.post("/push/graph")
def graph_push() -> ResponseReturnValue:
    token = request.args.get("validationToken")
    if token is not None:
        # The subscription handshake: echo the token as plain text within 10 seconds.
        # nosniff: the token is whatever the caller sent; no browser may run it as HTML.
        return token, 200, {"Content-Type": "text/plain; charset=utf-8",
                            "X-Content-Type-Options": "nosniff"}
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ApiError(400, "not a Graph notification", "value")
    settings = runtime().settings
    for item in body["value"]:
        if not isinstance(item, dict):
            continue
        row = db().scalar(select(Mailbox).where(
            Mailbox.provider == MailboxProvider.MICROSOFT,
            Mailbox.push_id == str(item.get("subscriptionId", ""))))
        given = str(item.get("clientState", "")).encode()
        if row is None:
            continue  # not ours
        if hmac.compare_digest(given, legacy_client_state(settings, row.id).encode()):
            # A subscription made before the per-purpose keys: subscribe again (next poll).
            row.push_id = row.push_expires_at = None
        elif not hmac.compare_digest(given, client_state(settings, row.id).encode()):
            continue  # forged: ignored
        if item.get("lifecycleEvent") == "subscriptionRemoved":
            row.push_id = row.push_expires_at = None  # the next poll subscribes again
        enqueue_poll(runtime(), row.id, throttle=False)
    return "", 202
