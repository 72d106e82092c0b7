"""Reading replies from Gmail (InboxReader): history.list from a stored history id (every label:
a reply a filter archived still counts), threads.get for a rescan or the pre-send check,
messages.get in the metadata format.

The connected scopes are gmail.compose + gmail.metadata: no bodies. A message is rebuilt from
its headers and Gmail's snippet (the first ~200 characters of the text), which carries an
out-of-office's "back on ..." in practice; a bounce is told by its headers (Content-Type
multipart/report, X-Failed-Recipients, mailer-daemon) and by its place in our thread.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email.message import Message
from email.mime.text import MIMEText
from typing import Any

from addin_server.mailboxes.gmail import GmailMailbox, NotFound
from addin_server.mailboxes.port import HEADERS, Changes, CursorExpired, FetchedMessage


class GmailInbox:
    def __init__(self, mailbox: GmailMailbox) -> None:
        self.mailbox = mailbox

    def _users(self) -> Any:
        return self.mailbox.service.users()

    def fresh_cursor(self) -> str:
        profile = self.mailbox._call(self._users().getProfile(userId="me"), read=True)
        return str(profile["historyId"])

    def changes(self, cursor: str) -> Changes:
        ids: dict[str, None] = {}
        token: str | None = None
        latest = cursor
        while True:
            try:
                # No labelId=INBOX: a reply that a filter archived or marked read is still a
                # reply (MSIA misses those). Our own sent messages and drafts are skipped by
                # their labels without being fetched.
                page = self.mailbox._call(self._users().history().list(
                    userId="me", startHistoryId=cursor, historyTypes=["messageAdded"],
                    pageToken=token), read=True)
            except NotFound as exc:
                raise CursorExpired(str(exc)) from exc
            for entry in page.get("history", []):
                for added in entry.get("messagesAdded", []):
                    labels = set(added["message"].get("labelIds", []))
                    if not labels & {"SENT", "DRAFT"}:
                        ids[added["message"]["id"]] = None
            latest = str(page.get("historyId", latest))
            token = page.get("nextPageToken")
            if not token:
                break
        # The new history id is kept only after the last page (a failure re-reads it all).
        return Changes([m for m in (self._get(i) for i in ids) if m is not None], latest)

    def _get(self, message_id: str) -> FetchedMessage | None:
        try:
            meta = self.mailbox._call(self._users().messages().get(
                userId="me", id=message_id, format="metadata", metadataHeaders=HEADERS),
                read=True)
        except NotFound:
            return None  # deleted since
        return from_metadata(meta)

    def thread_messages(self, thread_id: str) -> list[FetchedMessage]:
        try:
            thread = self.mailbox._call(self._users().threads().get(
                userId="me", id=thread_id, format="metadata", metadataHeaders=HEADERS),
                read=True)
        except NotFound:
            return []
        return [from_metadata(m) for m in thread.get("messages", [])
                if "SENT" not in m.get("labelIds", []) and "DRAFT" not in m.get("labelIds", [])]


def from_metadata(meta: dict[str, Any]) -> FetchedMessage:
    """A stdlib Message from a metadata-format Gmail message: its headers and snippet.

    A multipart message (a DSN is multipart/report) keeps its Content-Type and gets the snippet
    as its one text part, so that the classifier sees both the report type and the text
    ("...wasn't delivered to frank@..."); anything else becomes text/plain with the snippet."""
    msg = Message()
    multipart: str | None = None
    for h in meta.get("payload", {}).get("headers", []):
        name, value = str(h.get("name", "")), str(h.get("value", ""))
        if name.lower() == "content-type":
            if value.lower().startswith("multipart/"):
                multipart = value
            continue
        msg[name] = value
    snippet = html.unescape(str(meta.get("snippet", "")))
    if multipart is not None:
        msg["Content-Type"] = multipart
        msg.set_payload([MIMEText(snippet, "plain", "utf-8")])
    else:
        msg["Content-Type"] = "text/plain; charset=utf-8"
        msg.set_payload(snippet)
    internal = meta.get("internalDate")
    received = datetime.fromtimestamp(int(internal) / 1000, UTC) if internal else None
    return FetchedMessage(str(meta["id"]), meta.get("threadId"), msg, received)


def watch(inbox: GmailInbox, topic: str) -> datetime:
    """users.watch on the INBOX, published to `topic`; returns when it expires (renew before:
    at least every 7 days, Google suggests daily)."""
    body = {"topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "INCLUDE"}
    answer = inbox.mailbox._call(inbox._users().watch(userId="me", body=body))
    return datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
