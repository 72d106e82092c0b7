"""Write on an email task: the task's email as a Gmail draft that Gmail opens in its own compose
window. The draft id and thread are kept on the task, so that the message the rep finally sends
is recognised in their Sent items (see enrollments/sent_items.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from addin_server.addins.gmail import gmail_api as gmail_addon_api
from addin_server.campaigns import templates
from addin_server.enrollments import tasks
from addin_server.enrollments.advance import rep_mailbox
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.mime import build_mime
from addin_server.mailboxes.port import (
    AuthError,
    MailboxError,
    OutgoingMessage,
    TransientError,
)
from addin_server.mailboxes.port import Mailbox as MailboxPort
from addin_server.models import Mailbox, Rep, Task
from addin_server.runtime import Runtime
from gmail_addon.events import AddonEvent

log = logging.getLogger(__name__)

# The value of SEND_ID_HEADER on a task's draft: distinct from send row ids (plain numbers), so
# the pipeline's Sent-items lookups never take a task's email for a send; a trace for support.
TASK_HEADER_PREFIX = "task-"


class DraftProblem(Exception):
    """Why no draft was made, in words for the rep; `scopes` to ask Google for, if that is it."""

    def __init__(self, message: str, scopes: list[str] | None = None) -> None:
        super().__init__(message)
        self.scopes = scopes or []


@dataclass(frozen=True)
class CreatedDraft:
    draft_id: str
    thread_id: str | None


def task_message(session: Session, runtime: Runtime, rep: Rep, task: Task,
                 from_addr: str) -> OutgoingMessage:
    """The task's email as the compose window opens it (prompts kept for the rep)."""
    s = runtime.settings
    try:
        content = tasks.compose(session, task, rep, base_url=s.public_base_url,
                                secret_key=s.secret_key)
    except templates.MissingFields as exc:
        raise DraftProblem("Fill these fields for this person first: " + ", ".join(exc.names)
                           ) from exc
    reply = content.reply
    thread_id = None
    if reply is not None and reply.thread_id:
        earlier = session.get(Mailbox, reply.mailbox_id)
        # A thread id only means something in the mailbox the earlier email went out from.
        if earlier is not None and earlier.provider == MailboxProvider.GMAIL:
            thread_id = reply.thread_id
    return OutgoingMessage(
        send_id=f"{TASK_HEADER_PREFIX}{task.id}",
        from_addr=from_addr,
        from_name=rep.name,
        to_addr=content.to,
        subject=content.subject,
        html=content.body_html,
        text=content.body_text,
        in_reply_to=reply.rfc_message_id if reply else None,
        references=reply.references if reply else "",
        thread_id=thread_id,
    )


def _mime(message: OutgoingMessage) -> bytes:
    try:
        return build_mime(message).as_bytes()
    except ValueError as exc:  # a line break in a header value: never send that
        raise DraftProblem("This email's subject or address is not valid: fix the template."
                           ) from exc


def _with_event_tokens(runtime: Runtime, event: AddonEvent, message: OutgoingMessage
                       ) -> CreatedDraft:
    scopes = event.authorized_scopes
    if scopes is not None and gmail_addon_api.COMPOSE_SCOPE not in scopes:
        raise DraftProblem("Gmail needs your permission to create drafts.",
                           [gmail_addon_api.COMPOSE_SCOPE])
    try:
        draft_id, _message_id, thread_id = gmail_addon_api.create_draft(
            runtime.settings.gmail_api_endpoint, user_token=event.user_oauth_token,
            access_token=event.access_token, raw=_mime(message), thread_id=message.thread_id,
            ca_bundle=runtime.settings.google_ca_bundle)
    except gmail_addon_api.GmailCallFailed as exc:
        raise DraftProblem(str(exc), [gmail_addon_api.COMPOSE_SCOPE] if exc.missing_scope
                           else None) from exc
    if not draft_id:
        raise DraftProblem("Gmail did not return the draft. Please try again.")
    return CreatedDraft(draft_id, thread_id or None)


def mailbox_problem(exc: MailboxError) -> str:
    """A classified mailbox failure in words for the rep (the details go to the log)."""
    log.info("draft through the rep's mailbox failed: %s", exc)
    if isinstance(exc, AuthError):
        return "Your mailbox connection has expired: reconnect it in the web app."
    if isinstance(exc, TransientError):
        return "Your mailbox did not answer. Please try again in a minute."
    return "Your mailbox refused to create this draft."


@dataclass(frozen=True)
class DraftPlan:
    """Everything the draft needs, read from the database before any network call."""

    message: OutgoingMessage
    mailbox: Mailbox | None  # the adapter used when the event has no per-message token


def prepare_task_draft(
    runtime: Runtime, session: Session, rep: Rep, task: Task, event: AddonEvent
) -> tuple[DraftPlan, MailboxPort | None]:
    """The task's message, and the rep's mailbox adapter when the event carries no per-message
    token. Reads only: the caller ends its transaction before `create_draft` goes out."""
    mailbox = rep_mailbox(session, rep.id)
    use_event = bool(event.access_token and event.user_oauth_token)
    if not use_event and (mailbox is None or mailbox.status != MailboxStatus.CONNECTED):
        raise DraftProblem("Open an email first, or connect your mailbox in the web app, "
                           "so that the add-on can create drafts.")
    from_addr = mailbox.address if mailbox is not None else rep.email
    message = task_message(session, runtime, rep, task, from_addr)
    if use_event:
        return DraftPlan(message, None), None
    assert mailbox is not None
    try:
        adapter = open_mailbox(runtime, session, mailbox)
    except MailboxError as exc:
        raise DraftProblem(mailbox_problem(exc)) from exc
    except LookupError as exc:
        raise DraftProblem("Your mailbox cannot make drafts yet.") from exc
    return DraftPlan(message, mailbox), adapter


def create_draft(runtime: Runtime, event: AddonEvent, plan: DraftPlan,
                 adapter: MailboxPort | None) -> CreatedDraft:
    """The network call: with the event's tokens, or through the rep's mailbox adapter."""
    if adapter is None:
        return _with_event_tokens(runtime, event, plan.message)
    try:
        ref = adapter.create_draft(plan.message)
    except MailboxError as exc:
        raise DraftProblem(mailbox_problem(exc)) from exc
    return CreatedDraft(ref.draft_id, ref.thread_id)


def remember_draft(task: Task, draft: CreatedDraft, now: datetime) -> None:
    """Keep the draft on the task: its thread is how the sent message is recognised."""
    task.draft_id = draft.draft_id
    task.draft_thread_id = draft.thread_id
    task.draft_created_at = now
    task.updated_at = now
