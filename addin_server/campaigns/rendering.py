"""What an email step says to one person: merge values, subject, body, and the reply context.

Used by the send job (automatic emails, prompts refused) and by every compose window (email
tasks, prompts kept for the rep to replace).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.campaigns import templates
from addin_server.campaigns.quoting import quote_previous, reply_subject
from addin_server.html_text import html_to_text
from addin_server.models import Enrollment, Mailbox, Person, Rep, SentMessage, Step
from addin_server.suppressions import unsubscribe_url


@dataclass(frozen=True)
class ReplyContext:
    """The email a reply step answers: the one actually sent to this person."""

    rfc_message_id: str | None
    references: str  # the chain before this reply, space separated, with angle brackets
    thread_id: str | None
    provider_message_id: str | None
    mailbox_id: int
    subject: str
    body_html: str
    sent_at_iso: str


@dataclass(frozen=True)
class EmailContent:
    to: str
    subject: str
    body_html: str
    body_text: str
    reply: ReplyContext | None
    # Fields with no value left blank or marked (build_email's `missing`), sorted.
    missing: tuple[str, ...] = ()


def merge_values(
    person: Person, rep: Rep, *, base_url: str, secret_key: str
) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        str(k).lower(): (None if v is None else str(v)) for k, v in (person.fields or {}).items()
    }
    values.update(
        first_name=person.first_name,
        last_name=person.last_name,
        company=person.company,
        title=person.title,
        email=person.email,
        sender_name=rep.name or rep.email,
        sender_email=rep.email,
        unsubscribe_link=unsubscribe_url(base_url, secret_key, person.org_id, person.email),
    )
    return values


def step_source(step: Step) -> tuple[str, str]:
    """The subject and body templates of a step: its own, or its saved template's."""
    if step.template is not None:
        return step.template.subject, step.template.body_html
    return step.subject, step.body_html


def previous_email(session: Session, enrollment: Enrollment, step: Step) -> SentMessage | None:
    if step.position == 0:
        return None
    return session.scalar(
        select(SentMessage).where(
            SentMessage.enrollment_id == enrollment.id,
            SentMessage.position == step.position - 1,
        )
    )


def _sender_address(session: Session, previous: SentMessage, rep: Rep) -> str:
    """The address the previous email went out from (the quote names it as the recipient saw
    it), or the rep's sign-in address when that mailbox is gone."""
    mailbox = session.get(Mailbox, previous.mailbox_id) if previous.mailbox_id else None
    return mailbox.address if mailbox is not None else rep.email


def reply_context(previous: SentMessage) -> ReplyContext:
    return ReplyContext(
        rfc_message_id=previous.rfc_message_id,
        references=previous.references,
        thread_id=previous.thread_id,
        provider_message_id=previous.provider_message_id,
        mailbox_id=previous.mailbox_id,
        subject=previous.subject,
        body_html=previous.body_html,
        sent_at_iso=previous.sent_at.isoformat(),
    )


def build_email(
    session: Session,
    enrollment: Enrollment,
    step: Step,
    rep: Rep,
    *,
    base_url: str,
    secret_key: str,
    keep_prompts: bool,
    missing_fields: templates.MissingMode = "raise",
) -> EmailContent:
    """Render a step for its person. Raises templates.MissingFields (unless `missing_fields`
    says to leave them blank or mark them) / PromptsLeft."""
    person = enrollment.person
    values = merge_values(person, rep, base_url=base_url, secret_key=secret_key)
    subject_src, body_src = step_source(step)
    missing: list[str] = []
    body = _render(body_src, values, missing, html=True, keep_prompts=keep_prompts,
                   missing_fields=missing_fields)
    if rep.signature_html:
        body = with_signature(body, _render(rep.signature_html, values, missing, html=True,
                                            keep_prompts=keep_prompts,
                                            missing_fields=missing_fields))
    reply: ReplyContext | None = None
    if step.reply_to_previous:
        previous = previous_email(session, enrollment, step)
        if previous is not None:
            reply = reply_context(previous)
            subject = reply_subject(previous.subject)
            body = quote_previous(body, previous.body_html, dates.aware(previous.sent_at),
                                  rep.timezone, rep.name, _sender_address(session, previous, rep))
        else:
            # The previous email was skipped: nothing to thread on, so this one starts afresh
            # with the previous step's subject.
            prev_step = enrollment.campaign.steps[step.position - 1]
            subject = _render(step_source(prev_step)[0], values, missing, html=False,
                              keep_prompts=keep_prompts, missing_fields=missing_fields)
    else:
        subject = _render(subject_src, values, missing, html=False, keep_prompts=keep_prompts,
                          missing_fields=missing_fields)
    if missing and missing_fields == "raise":
        raise templates.MissingFields(sorted(set(missing)))
    return EmailContent(
        to=person.email,
        subject=subject,
        body_html=body,
        body_text=html_to_text(body),
        reply=reply,
        missing=tuple(sorted(set(missing))),
    )


SIGNATURE_CLASS = "signature"


def with_signature(body_html: str, signature_html: str) -> str:
    """The body followed by the rep's signature (below the body, so above the quoted previous
    email that a reply adds after it), in a div mail clients and our tests can find."""
    if not signature_html.strip():
        return body_html
    return f'{body_html}<div class="{SIGNATURE_CLASS}">{signature_html}</div>'


def _render(
    text: str, values: dict[str, str | None], missing: list[str], *, html: bool,
    keep_prompts: bool, missing_fields: templates.MissingMode,
) -> str:
    """One part rendered; its missing fields added to `missing` (the caller raises once for
    the subject and the body together)."""
    mode: templates.MissingMode = "blank" if missing_fields == "raise" else missing_fields
    result, holes = templates.render_filled(text, values, html=html, keep_prompts=keep_prompts,
                                            missing=mode)
    missing.extend(holes)
    return result
