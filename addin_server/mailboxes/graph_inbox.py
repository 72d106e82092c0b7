"""Reading replies from Microsoft 365 (InboxReader): a delta query on the inbox from a stored
delta link (410 / syncStateNotFound: start again), and the messages of a conversation.

Each new message is read with its transport headers (internetMessageHeaders) and its body
(Mail.Read), from which a stdlib Message is rebuilt for classification.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import quote

from addin_server.mailboxes.graph import GraphMailbox, NotFound
from addin_server.mailboxes.port import Changes, CursorExpired, FetchedMessage, PermanentError

DELTA = "/me/mailFolders/inbox/messages/delta"
FIELDS = ("id,conversationId,internetMessageId,receivedDateTime,subject,from,body,"
          "internetMessageHeaders")


class GraphInbox:
    def __init__(self, mailbox: GraphMailbox) -> None:
        self.mailbox = mailbox

    def _path(self, link: str) -> str:
        base = self.mailbox.base_url
        return link[len(base):] if link.startswith(base) else link

    def _delta(self, first: str, params: dict[str, str] | None) -> tuple[list[str], str]:
        """Follow @odata.nextLink to the @odata.deltaLink; the ids of added messages."""
        ids: list[str] = []
        path, query = first, params
        for _ in range(10_000):
            try:
                page = self.mailbox._request("GET", path, params=query).json()
            except PermanentError as exc:
                if str(exc).startswith("Graph 410") or re.search(
                        r"syncStateNotFound|resyncRequired", str(exc), re.I):
                    raise CursorExpired(str(exc)) from exc
                raise
            ids += [item["id"] for item in page.get("value", []) if "@removed" not in item]
            if "@odata.deltaLink" in page:
                return ids, str(page["@odata.deltaLink"])
            path, query = self._path(str(page["@odata.nextLink"])), None
        raise CursorExpired("delta did not end")

    def fresh_cursor(self) -> str:
        # An initial round lists the inbox (ids only); only its delta link is kept.
        _, link = self._delta(DELTA, {"$select": "id"})
        return link

    def changes(self, cursor: str) -> Changes:
        ids, link = self._delta(self._path(cursor), None)
        return Changes([m for m in (self._get(i) for i in dict.fromkeys(ids)) if m], link)

    def _get(self, message_id: str) -> FetchedMessage | None:
        try:
            item = self.mailbox._request("GET", f"/me/messages/{quote(message_id, safe='')}",
                                         params={"$select": FIELDS}).json()
        except NotFound:
            return None
        return from_graph(item)

    def thread_messages(self, thread_id: str) -> list[FetchedMessage]:
        found = self.mailbox._request("GET", "/me/mailFolders/inbox/messages", params={
            "$filter": f"conversationId eq '{thread_id.replace(chr(39), '')}'",
            "$select": FIELDS, "$top": "50"}).json().get("value", [])
        return [from_graph(item) for item in found]


def from_graph(item: dict[str, Any]) -> FetchedMessage:
    msg = Message()
    names = set()
    for h in item.get("internetMessageHeaders", []) or []:
        name = str(h.get("name", ""))
        if name.lower() == "content-type":
            continue  # the body below is what we have, as text
        names.add(name.lower())
        msg[name] = str(h.get("value", ""))
    sender = (item.get("from") or {}).get("emailAddress") or {}
    if "from" not in names and sender.get("address"):
        msg["From"] = str(sender["address"])
    if "subject" not in names and item.get("subject"):
        msg["Subject"] = str(item["subject"])
    if "message-id" not in names and item.get("internetMessageId"):
        msg["Message-ID"] = str(item["internetMessageId"])
    body = item.get("body") or {}
    text = str(body.get("content", ""))
    if str(body.get("contentType", "")).lower() == "html":
        msg["Content-Type"] = "text/html; charset=utf-8"
    else:
        msg["Content-Type"] = "text/plain; charset=utf-8"
    msg.set_payload(text, "utf-8")
    received = item.get("receivedDateTime")
    at = (datetime.fromisoformat(received.replace("Z", "+00:00")).astimezone(UTC)
          if received else None)
    return FetchedMessage(str(item["id"]), item.get("conversationId"), msg, at)


def subscribe(inbox: GraphInbox, *, url: str, client_state: str, expires: datetime,
              push_id: str | None) -> str:
    """Create (or renew, when `push_id` still exists) the subscription to new inbox mail;
    returns its id. Lifecycle events go to the same URL."""
    until = expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if push_id:
        try:
            inbox.mailbox._request("PATCH", f"/subscriptions/{quote(push_id, safe='')}",
                                   json={"expirationDateTime": until})
            return push_id
        except NotFound:
            pass  # removed meanwhile: create a new one
    created = inbox.mailbox._request("POST", "/subscriptions", json={
        "changeType": "created", "notificationUrl": url, "lifecycleNotificationUrl": url,
        "resource": "/me/mailFolders('inbox')/messages", "expirationDateTime": until,
        "clientState": client_state}).json()
    return str(created["id"])
