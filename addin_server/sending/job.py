"""Sending one due send, once (`run_send`). The RQ job that calls it is
workers/send.py's `send_email(send_id)`; the row in the database is the truth.

`run_send(runtime, send_id)`:
1. re-read the row and claim it (conditional UPDATE); leave if it is not due any more;
2. render it (held with a reason when a merge field is empty) and commit that;
3. create the draft and record its id (commit) before the call that sends it;
4. send the draft (one call, never retried by the client), read back the real Message-ID;
5. in one commit: mark it sent with the ids, record the SentMessage, move the person on, feed.
A failure is classified (mailboxes/port.py) and handled by `after_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from addin_server import dates
from addin_server.campaigns import rendering as content
from addin_server.campaigns import templates
from addin_server.config import Settings
from addin_server.db import rowcount
from addin_server.enrollments.status import mailbox_reason
from addin_server.enums import MailboxProvider, SendState
from addin_server.guard.breakers import evaluate, record_bounce, status_code
from addin_server.guard.rules import (
    RESTRICTED_SENDER,
    SENDING_LIMIT,
    Thresholds,
    hard_stop,
)
from addin_server.guard.stops import apply_hard_stop
from addin_server.html_text import html_to_text
from addin_server.inbound.poll import fresh_reply_check
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.port import (
    AuthError,
    DraftRef,
    FileAttachment,
    Mailbox,
    MailboxError,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    PreviousNotReady,
    SenderRefused,
    SentRef,
    TransientError,
)
from addin_server.mailboxes.state import disconnect_mailbox, pause_mailbox
from addin_server.models import Attachment, Campaign, Enrollment, Person, Rep, Send, Task
from addin_server.models import Mailbox as MailboxRow
from addin_server.runtime import Runtime
from addin_server.sending import checks as presend
from addin_server.sending.delivery import fail, hold, mark_sent
from addin_server.sending.outbox import (
    DUE_STATES,
    SENDS,
    claim,
    move,
    retry_delay,
    waiting_reason,
)
from addin_server.suppressions import list_unsubscribe_headers

log_ = logging.getLogger(__name__)


def run_send(rt: Runtime, send_id: int) -> str:
    """Send one due send once. Returns what happened, for logs and tests.

    One session, committed at three points: the checks and the claim (with the rendered
    text), the draft id (before the call that sends), the outcome. When the person has threads
    in a Gmail or Microsoft mailbox, a fresh reply check reads them between the checks and the
    claim (no transaction is open across a network call).
    """
    # One connection for the whole job: a session on the pool would check a connection out
    # (and ping it) at each of its transactions.
    with rt.engine.connect() as connection, rt.sessions(bind=connection) as session:
        threads: list[str] = []
        with _unit(session):
            job = _load(session, send_id)
            if isinstance(job, str):
                return job
            # Suppressed / unsubscribed / blocked / bounced: not sent.
            stop = presend.blocked(session, job.send, job.enrollment, job.person, rt.now())
            if stop:
                return f"left: {stop}"
            # At the bulk-sender line a first email to a consumer address waits for tomorrow.
            stop = presend.bulk_held(session, job.send, job.enrollment, job.person,
                                     job.mailbox, rt.now())
            if stop:
                return f"left: {stop}"
            threads = presend.reply_threads(session, job.enrollment.id, job.mailbox)
            if not threads:
                prepared = _claim_and_render(rt, session, job)
        if threads:
            # A reply that arrived since the last poll stops the send now.
            stop = fresh_reply_check(rt, job.enrollment.id, job.mailbox.id, threads)
            if stop:
                return f"left: {stop}"
            with _unit(session):
                prepared = _claim_and_render(rt, session, job)
        if isinstance(prepared, str):
            return prepared
        message, attempt = prepared
        try:
            mailbox = open_mailbox(rt, session, job.mailbox)
            if job.draft_id is None:
                draft = mailbox.create_draft(message)
                with _unit(session):
                    if not _record_draft(session, rt.now(), send_id, attempt, draft):
                        return "lease lost before sending"  # the draft stays unsent
            else:
                draft = DraftRef(draft_id=job.draft_id)  # recorded by an earlier attempt
            sent = mailbox.send_draft(draft)
        except MailboxError as exc:
            session.rollback()
            with _unit(session):
                return after_error(session, rt.settings, send_id, attempt, exc, rt.now())
        except Exception:
            # Unclassified (a bug, a dropped connection): it may have gone out. Reconcile first.
            session.rollback()
            with _unit(session):
                _to_unknown(session, rt.settings, send_id, attempt, "unexpected error", rt.now())
            raise
        sent = _read_back(mailbox, sent)
        # The campaign and its steps stay loaded; what others may have changed meanwhile
        # (the enrollment, a task, the mailbox) is read again.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Enrollment | Task | MailboxRow):
                session.expire(obj)
        with _unit(session):
            if mark_sent(session, send_id, sent, rt.now(), attempt=attempt,
                         note=f"message {sent.message_id} (draft {draft.draft_id})"):
                return "sent"
        return "sent (recorded by another party)"


@contextmanager
def _unit(session: Session) -> Iterator[None]:
    """One of the job's transactions: commit on success, roll back on error."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


@dataclass(frozen=True)
class _Job:
    """What the job reads once, at the start: the send and all it is written from."""

    send: Send
    enrollment: Enrollment
    person: Person
    rep: Rep
    mailbox: MailboxRow
    draft_id: str | None  # recorded by an earlier attempt: send that draft, make no other
    # Held here so that it stays loaded: the session's identity map only holds weak references,
    # and expiring the enrollment before the outcome would otherwise let it go.
    campaign: Campaign


# Built once: SQLAlchemy then reuses its cache key instead of walking the statement per job.
_LOAD = (
    select(Send, Enrollment, Person, Rep, MailboxRow)
    .join(Enrollment, Enrollment.id == Send.enrollment_id)
    .join(Person, Person.id == Enrollment.person_id)
    .join(Rep, Rep.id == Enrollment.rep_id)
    .outerjoin(MailboxRow, MailboxRow.id == Send.mailbox_id)
    .options(joinedload(Enrollment.campaign).selectinload(Campaign.steps))
    .where(Send.id == bindparam("send_id"))
)


def _load(session: Session, send_id: int) -> _Job | str:
    """The send, its enrollment, person, campaign and steps, rep and mailbox: two queries."""
    row = session.execute(_LOAD, {"send_id": send_id}).one_or_none()
    if row is None:
        return "no such send"
    send, enrollment, person, rep, mailbox = row
    if send.state not in DUE_STATES:
        return f"left: {send.state.value}"
    if mailbox is None:
        return "left: no mailbox"  # the claim would refuse it too (not sendable)
    return _Job(send, enrollment, person, rep, mailbox, send.draft_id, enrollment.campaign)


def _claim_and_render(rt: Runtime, session: Session, job: _Job) -> str | tuple[
        OutgoingMessage, int]:
    now = rt.now()
    send = job.send
    send_id = send.id
    # Rendered first, so that the claim stores the text in the same UPDATE.
    rendered: tuple[OutgoingMessage, dict[str, object]] | Exception
    try:
        rendered = render(session, rt.settings, send, job.enrollment, job.rep, job.mailbox)
    except (templates.MissingFields, templates.PromptsLeft, ValueError) as exc:
        rendered = exc
    stored = rendered[1] if isinstance(rendered, tuple) else {}
    attempt = claim(session, send, now, rt.settings.send_lease_seconds, **stored)
    if attempt is None:
        session.expire(send)
        reason = waiting_reason(session, send, now)
        if send.state == SendState.QUEUED:
            # Not ours to send now: back to the outbox, where the dispatcher finds it when it
            # can go (a worker clock behind the dispatcher's also ends here).
            move(session, send_id, (SendState.QUEUED,), SendState.SCHEDULED, now,
                 reason or "not claimable", reason=reason)
        return f"left: {reason or 'taken by another worker'}"
    if isinstance(rendered, Exception):
        hold(session, send_id, f"cannot be written: {rendered}", now, attempt=attempt)
        return "held"
    return rendered[0], attempt


def outgoing(session: Session, settings: Settings, send: Send) -> OutgoingMessage:
    """The email of a claimed send, rendered now and stored on the row (see `render`)."""
    enrollment = session.get(Enrollment, send.enrollment_id, options=[
        joinedload(Enrollment.person),
        joinedload(Enrollment.campaign).selectinload(Campaign.steps)])
    assert enrollment is not None
    rep = session.get(Rep, enrollment.rep_id)
    mailbox = session.get(MailboxRow, send.mailbox_id)
    assert rep is not None and mailbox is not None
    message, stored = render(session, settings, send, enrollment, rep, mailbox)
    for key, value in stored.items():
        setattr(send, key, value)
    return message


def render(session: Session, settings: Settings, send: Send, enrollment: Enrollment, rep: Rep,
           mailbox: MailboxRow) -> tuple[OutgoingMessage, dict[str, object]]:
    """The email of a send, rendered now (an email task's text as the rep wrote it), and the
    columns to store on the row: what goes out is kept (the next reply quotes exactly that)."""
    step = enrollment.campaign.steps[send.position]
    reply: content.ReplyContext | None = None
    stored: dict[str, object] = {}
    if send.task_id is None:
        email = content.build_email(session, enrollment, step, rep,
                                    base_url=settings.public_base_url,
                                    secret_key=settings.secret_key, keep_prompts=False,
                                    missing_fields="blank" if send.blank_missing else "raise")
        stored = {"to_addr": email.to, "subject": email.subject, "body_html": email.body_html,
                  "cc": list(step.cc or []), "bcc": list(step.bcc or [])}
        to_addr, subject, html = email.to, email.subject, email.body_html
        reply, text = email.reply, email.body_text
        cc, bcc = tuple(step.cc or ()), tuple(step.bcc or ())
        files: tuple[FileAttachment, ...] = ()
    else:
        previous = content.previous_email(session, enrollment, step)
        if step.reply_to_previous and previous is not None:
            reply = content.reply_context(previous)
        to_addr, subject, html = send.to_addr, send.subject, send.body_html
        text = html_to_text(html)
        cc, bcc = tuple(send.cc or ()), tuple(send.bcc or ())
        files = attachments_of(session, send.id)
    same_box = reply is not None and reply.mailbox_id == mailbox.id
    message = OutgoingMessage(
        send_id=str(send.id), from_addr=mailbox.address, from_name=rep.name or rep.email,
        to_addr=to_addr, subject=subject, html=html, text=text,
        in_reply_to=reply.rfc_message_id if reply else None,
        references=reply.references if reply else "",
        thread_id=reply.thread_id if reply and same_box else None,
        reply_to_provider_id=reply.provider_message_id if reply and same_box else None,
        reply_to_sent_at=datetime.fromisoformat(reply.sent_at_iso) if reply else None,
        cc=cc, bcc=bcc, attachments=files,
        extra_headers=list_unsubscribe_headers(
            base_url=settings.public_base_url, secret_key=settings.secret_key,
            org_id=enrollment.org_id, email=enrollment.person.email,
            mailbox_address=mailbox.address),
    )
    return message, stored


def attachments_of(session: Session, send_id: int) -> tuple[FileAttachment, ...]:
    """The files the rep attached to an email task, in the order they were added."""
    rows = session.execute(select(Attachment.filename, Attachment.content_type, Attachment.data)
                           .where(Attachment.send_id == send_id).order_by(Attachment.id))
    return tuple(FileAttachment(name, ctype, bytes(data)) for name, ctype, data in rows)


def _record_draft(session: Session, now: datetime, send_id: int, attempt: int,
                  draft: DraftRef) -> bool:
    """The draft id, on the row only (the history names it with the outcome): one statement
    before the call that sends."""
    return bool(rowcount(session.connection().execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.state == SendState.SENDING,
               SENDS.c.attempts == attempt)
        .values(draft_id=draft.draft_id, updated_at=now)
    )))


def _read_back(mailbox: Mailbox, sent: SentRef) -> SentRef:
    """The real Message-ID (Gmail may replace ours); without it the send still counts."""
    if sent.rfc_message_id:
        return sent
    try:
        headers = mailbox.get_headers(sent.message_id, ["Message-ID"])
    except MailboxError:
        log_.warning("could not read back the Message-ID of message %s", sent.message_id)
        return sent
    return SentRef(message_id=sent.message_id, thread_id=sent.thread_id,
                   rfc_message_id=headers.get("Message-ID"), sent_at=sent.sent_at)


def _to_unknown(session: Session, settings: Settings, send_id: int, attempt: int, why: str,
                now: datetime) -> None:
    move(session, send_id, (SendState.SENDING,), SendState.UNKNOWN, now,
         f"{why}: checking Sent items before any retry", attempt=attempt,
         reason=f"outcome unknown ({why}); checking Sent items",
         lease_until=now + timedelta(seconds=settings.reconcile_grace_seconds))


def _count_bounce(session: Session, settings: Settings, send: Send, mailbox: MailboxRow,
                  exc: PermanentError, now: datetime) -> None:
    """A recipient refused for good is a hard bounce: the breakers count it at once."""
    enrollment = session.get(Enrollment, send.enrollment_id)
    bounce = record_bounce(session, org_id=send.org_id, mailbox_id=mailbox.id,
                           enrollment=enrollment, address=send.to_addr, source="api",
                           now=now, code=status_code(str(exc)), text=str(exc))
    evaluate(session, Thresholds.from_settings(settings), bounce, now)


def after_error(session: Session, settings: Settings, send_id: int, attempt: int,
                exc: MailboxError, now: datetime) -> str:
    """Classify a provider failure and move the send accordingly (see docs/sending.md)."""
    send = session.get(Send, send_id)
    assert send is not None
    mailbox = session.get(MailboxRow, send.mailbox_id)
    assert mailbox is not None
    if isinstance(exc, TransientError) and exc.may_have_sent:
        _to_unknown(session, settings, send_id, attempt, str(exc), now)
        return "unknown"
    if isinstance(exc, TransientError):
        if attempt >= settings.send_max_attempts:
            fail(session, send_id, f"gave up after {attempt} attempts: {exc}", now,
                 attempt=attempt)
            return "failed"
        delay = retry_delay(attempt, exc.retry_after, base=settings.send_retry_base_seconds,
                            cap=settings.send_retry_max_seconds)
        move(session, send_id, (SendState.SENDING,), SendState.SCHEDULED, now,
             f"transient error, retry in {delay:.1f}s: {exc}", attempt=attempt,
             due_at=max(send.due_at, now + timedelta(seconds=delay)), lease_until=None,
             reason=f"retrying after a temporary error: {exc}")
        return "retry"
    if isinstance(exc, PermanentError):
        if fail(session, send_id, str(exc), now, attempt=attempt):
            _count_bounce(session, settings, send, mailbox, exc, now)
        return "failed"
    if isinstance(exc, AuthError):
        reason = f"mailbox {mailbox.address} is disconnected ({exc}): reconnect it to resume"
        disconnect_mailbox(session, mailbox, str(exc), now)
        move(session, send_id, (SendState.SENDING,), SendState.SCHEDULED, now, reason,
             attempt=attempt, lease_until=None, reason=reason)
        return "mailbox disconnected"
    if isinstance(exc, PreviousNotReady):
        # Never outside its thread: wait for the previous email; not an attempt.
        wait = exc.retry_after or settings.send_retry_base_seconds
        move(session, send_id, (SendState.SENDING,), SendState.SCHEDULED, now, str(exc),
             attempt=attempt, lease_until=None, reason=str(exc), attempts=attempt - 1,
             due_at=max(send.due_at, now + timedelta(seconds=wait)))
        return "waiting for the previous email"
    if isinstance(exc, SenderRefused):
        # The provider refuses the sender (Microsoft's restricted senders, 5.1.8): the same
        # action as the NDR: the mailbox paused until a person releases it, the rep and admins
        # told. The send waits; not an attempt, never a bounce.
        stop = hard_stop(status_code(str(exc)), str(exc))
        if stop is None or stop.kind != RESTRICTED_SENDER:  # a code without Exchange's words
            stop = hard_stop("5.1.8", "")
        assert stop is not None
        apply_hard_stop(session, mailbox, stop, now, detail=str(exc))
        reason = mailbox_reason(mailbox, now) or str(exc)
        move(session, send_id, (SendState.SENDING,), SendState.SCHEDULED, now, str(exc),
             attempt=attempt, lease_until=None, reason=reason, attempts=attempt - 1)
        return "mailbox restricted"
    if isinstance(exc, MailboxPaused):
        # The provider refused to process the request (a limit, a throttle): not an attempt,
        # so the attempt is given back and the attempts stay for real failures however long
        # the provider holds the mailbox.
        until = dates.absolute(exc.until, "UTC", named=True)
        reason = f"mailbox paused by the provider until {until}: {exc}"
        stop = hard_stop(status_code(str(exc)), str(exc))
        if stop is not None and stop.kind == SENDING_LIMIT:
            # The daily sending limit: paused until the provider's time, and a lower cap.
            default = (settings.microsoft_daily_cap if mailbox.provider == MailboxProvider.MICROSOFT
                       else settings.gmail_daily_cap)
            apply_hard_stop(session, mailbox, stop, now, detail=str(exc), until=exc.until,
                            default_cap=default)
        else:
            pause_mailbox(session, mailbox, exc.until, str(exc), now)
        move(session, send_id, (SendState.SENDING,), SendState.SCHEDULED, now, reason,
             attempt=attempt, lease_until=None, reason=reason, attempts=attempt - 1,
             due_at=max(send.due_at, exc.until))
        return "mailbox paused"
    _to_unknown(session, settings, send_id, attempt, f"unclassified {type(exc).__name__}", now)
    return "unknown"
