"""Reading replies from Microsoft 365 (InboxReader): a delta query on the inbox from a stored
delta link (410 / syncStateNotFound: start again), and the messages of a conversation.

Each new message is read with its transport headers (internetMessageHeaders) and its body
(Mail.Read), from which a stdlib Message is rebuilt for classification. A message that looks
like a delivery report (Content-Type multipart/report, Exchange's NDR mark, a daemon or
Exchange NDR sender) is read whole through `/$value` (its MIME), so that the classifier sees
the delivery-status part and the returned message's headers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.mime.text import MIMEText
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
        fetched = from_graph(item)
        return self._whole(fetched) if looks_like_report(fetched.message) else fetched

    def _whole(self, fetched: FetchedMessage) -> FetchedMessage:
        """The message as its MIME (GET /me/messages/{id}/$value); as read when that fails."""
        try:
            raw = self.mailbox._request(
                "GET", f"/me/messages/{quote(fetched.provider_id, safe='')}/$value").content
        except (NotFound, PermanentError):
            return fetched
        msg = message_from_bytes(raw)
        if not msg.keys():
            return fetched
        return FetchedMessage(fetched.provider_id, fetched.thread_id, msg, fetched.received_at)

    def thread_messages(self, thread_id: str) -> list[FetchedMessage]:
        found = self.mailbox._request("GET", "/me/mailFolders/inbox/messages", params={
            "$filter": f"conversationId eq '{thread_id.replace(chr(39), '')}'",
            "$select": FIELDS, "$top": "50"}).json().get("value", [])
        return [self._whole(m) if looks_like_report(m.message) else m
                for m in (from_graph(item) for item in found)]


_REPORT_SENDER = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|microsoftexchange[0-9a-f]{32})@", re.I)


def looks_like_report(msg: Message) -> bool:
    """Worth reading whole: a delivery report by its type, Exchange's mark or its sender."""
    sender = str(msg.get("From", ""))
    address = sender[sender.rfind("<") + 1:].rstrip(">").strip() if "<" in sender else sender
    return (msg.get_content_type() == "multipart/report"
            or msg.get("X-MS-Exchange-Message-Is-Ndr") is not None
            or bool(_REPORT_SENDER.match(address.strip())))


def from_graph(item: dict[str, Any]) -> FetchedMessage:
    """A stdlib Message from a Graph message: its transport headers (Content-Type included:
    a multipart/report must stay one) and its body as the one text part."""
    msg = Message()
    names = set()
    multipart: str | None = None
    for h in item.get("internetMessageHeaders", []) or []:
        name, value = str(h.get("name", "")), str(h.get("value", ""))
        if name.lower() == "content-type":
            if value.lower().startswith("multipart/"):
                multipart = value
            continue  # a single part's type is the body's, set below
        names.add(name.lower())
        msg[name] = value
    sender = (item.get("from") or {}).get("emailAddress") or {}
    if "from" not in names and sender.get("address"):
        msg["From"] = str(sender["address"])
    if "subject" not in names and item.get("subject"):
        msg["Subject"] = str(item["subject"])
    if "message-id" not in names and item.get("internetMessageId"):
        msg["Message-ID"] = str(item["internetMessageId"])
    body = item.get("body") or {}
    subtype = "html" if str(body.get("contentType", "")).lower() == "html" else "plain"
    text = MIMEText(str(body.get("content", "")), subtype, "utf-8")
    if multipart is not None:
        msg["Content-Type"] = multipart
        msg.set_payload([text])
    else:
        msg["Content-Type"] = f"text/{subtype}; charset=utf-8"
        msg.set_payload(str(body.get("content", "")), "utf-8")
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
