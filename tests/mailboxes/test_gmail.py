"""The Gmail adapter against the fake Gmail, through the real google-api-python-client,
google-auth and httplib2: what the recipient sees, what the rep's mailbox shows, how failures are
classified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addin_server.campaigns.quoting import quote_previous, reply_subject
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.gmail import GmailMailbox
from addin_server.mailboxes.port import (
    SEND_ID_HEADER,
    AuthError,
    DraftRef,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    SentRef,
    TransientError,
)
from addin_server.runtime import Runtime
from tests.fakes.fixtures import connected_gmail_row
from tests.fakes.google import G, GoogleFake

REP, CONTACT = "ann@acme.test", "zoe@corp.test"
T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _open(rt: Runtime, fake: GoogleFake, **kw: object) -> GmailMailbox:
    row = connected_gmail_row(rt.settings, fake, REP, **kw)  # type: ignore[arg-type]
    mailbox = open_mailbox(rt, None, row)  # type: ignore[arg-type]
    assert isinstance(mailbox, GmailMailbox)
    return mailbox


def _first(send_id: str = "101", html: str = "<p>Hello Zoe</p>") -> OutgoingMessage:
    return OutgoingMessage(send_id=send_id, from_addr=REP, from_name="Ann Smith",
                           to_addr=CONTACT, subject="Quick question", html=html,
                           text="Hello Zoe")


def _reply(send_id: str, previous: OutgoingMessage, sent: SentRef, references: str,
           new_html: str) -> OutgoingMessage:
    html = quote_previous(new_html, previous.html, T0, "UTC", "Ann Smith", REP)
    return OutgoingMessage(send_id=send_id, from_addr=REP, from_name="Ann Smith",
                           to_addr=CONTACT, subject=reply_subject(previous.subject), html=html,
                           text=new_html, in_reply_to=sent.rfc_message_id,
                           references=references, thread_id=sent.thread_id)


def _send(mailbox: GmailMailbox, message: OutgoingMessage) -> SentRef:
    return mailbox.send_draft(mailbox.create_draft(message))


def test_three_email_thread_as_sender_and_recipient_see_it(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    m1 = _first()
    s1 = _send(mailbox, m1)
    # Gmail replaced our Message-ID; the adapter read the real one back.
    assert s1.rfc_message_id is not None and s1.rfc_message_id.endswith("@mail.gmail.com>")
    m2 = _reply("102", m1, s1, "", "<p>Following up</p>")
    s2 = _send(mailbox, m2)
    # References of the message replied to (m2's References is just s1's id).
    m3 = _reply("103", m2, s2, s1.rfc_message_id, "<p>Last try</p>")
    s3 = _send(mailbox, m3)

    # The rep's mailbox: one thread of three sent messages.
    assert s1.thread_id == s2.thread_id == s3.thread_id
    rep_thread = google_fake.mailbox(REP).thread(s1.thread_id or "")
    assert [sorted(m.labels) for m in rep_thread] == [["SENT"]] * 3

    # The recipient: one conversation, the chain in angle brackets, Re: subjects, the quotes.
    threads = google_fake.recipient_view(CONTACT).threads()
    assert len(threads) == 1
    first, second, third = threads[0]
    assert first.subject == "Quick question"
    assert second.subject == third.subject == "Re: Quick question"
    assert second.in_reply_to == s1.rfc_message_id
    assert second.references == [s1.rfc_message_id]
    assert third.in_reply_to == s2.rfc_message_id
    assert third.references == [s1.rfc_message_id, s2.rfc_message_id]
    assert [m.message_id for m in (first, second, third)] == [
        s1.rfc_message_id, s2.rfc_message_id, s3.rfc_message_id]
    assert third.header(SEND_ID_HEADER) == "103"
    # The third quotes the second, which quotes the first: the bodies actually sent.
    html = third.html
    assert html.index("Last try") < html.index("Following up") < html.index("Hello Zoe")
    assert html.count('<blockquote class="gmail_quote"') == 2
    assert mailbox.get_headers(s3.message_id, ["References", "In-Reply-To"]) == {
        "References": f"{s1.rfc_message_id} {s2.rfc_message_id}",
        "In-Reply-To": s2.rfc_message_id,
    }


def test_a_reply_on_a_deleted_thread_still_threads_for_the_recipient(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    m1 = _first()
    s1 = _send(mailbox, m1)
    gone = SentRef(s1.message_id, "deadbeefdeadbeef", s1.rfc_message_id)
    s2 = _send(mailbox, _reply("102", m1, gone, "", "<p>Again</p>"))
    assert s2.thread_id != s1.thread_id
    assert [len(t) for t in google_fake.recipient_view(CONTACT).threads()] == [2]


def test_find_sent_by_our_header_within_the_time_bound(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    for n in range(3):
        _send(mailbox, _first(send_id=f"20{n}"))
    since = datetime.now(UTC) - timedelta(hours=1)
    found = mailbox.find_sent("201", since=since)
    assert found is not None
    assert mailbox.get_headers(found.message_id, [SEND_ID_HEADER]) == {SEND_ID_HEADER: "201"}
    assert found.rfc_message_id and found.rfc_message_id.endswith("@mail.gmail.com>")
    assert mailbox.find_sent("999", since=since) is None
    # Messages older than `since` are not scanned.
    assert mailbox.find_sent("201", since=datetime.now(UTC) + timedelta(hours=1)) is None


def test_a_lost_send_response_is_may_have_sent_and_found_once(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    draft = mailbox.create_draft(_first(send_id="301"))
    google_fake.drop_after("drafts.send")
    with pytest.raises(TransientError) as exc:
        mailbox.send_draft(draft)
    assert exc.value.may_have_sent is True
    # httplib2 re-sent the POST by itself after the dropped connection; the consumed draft
    # made that second attempt a 404 instead of a second email.
    assert google_fake.calls.count("drafts.send") == 2
    assert len(google_fake.recipient_view(CONTACT).messages) == 1
    found = mailbox.find_sent("301", since=datetime.now(UTC) - timedelta(minutes=5))
    assert found is not None
    assert found.rfc_message_id == google_fake.recipient_view(CONTACT).messages[0].message_id
    # Sending the same draft again cannot send twice either.
    with pytest.raises(TransientError) as again:
        mailbox.send_draft(draft)
    assert again.value.may_have_sent is True
    assert len(google_fake.recipient_view(CONTACT).messages) == 1


def test_access_token_is_refreshed_when_refused(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    _send(mailbox, _first(send_id="1"))
    assert google_fake.calls.count("token.refresh") == 1
    google_fake.expire_access_tokens()
    _send(mailbox, _first(send_id="2"))
    assert google_fake.calls.count("token.refresh") == 2
    assert len(google_fake.recipient_view(CONTACT).messages) == 2


@pytest.mark.parametrize("with_live_token", [False, True])
def test_revoked_grant_is_auth_error(
    gmail_runtime: Runtime, google_fake: GoogleFake, with_live_token: bool
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    if with_live_token:
        _send(mailbox, _first(send_id="1"))
    google_fake.revoke(REP)
    with pytest.raises(AuthError, match="invalid_grant"):
        mailbox.create_draft(_first(send_id="2"))


def test_missing_scope_is_auth_error(gmail_runtime: Runtime, google_fake: GoogleFake) -> None:
    mailbox = _open(gmail_runtime, google_fake, scopes=[G + "gmail.send"])
    with pytest.raises(AuthError):
        mailbox.create_draft(_first())


def test_sending_limit_429_pauses_the_mailbox_until_the_named_time(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    draft = mailbox.create_draft(_first())
    google_fake.fail("drafts.send", 429, "User-rate limit exceeded.  Retry after "
                     "2026-11-24T14:05:00.000Z (Mail sending)", reason="rateLimitExceeded")
    with pytest.raises(MailboxPaused) as exc:
        mailbox.send_draft(draft)
    assert exc.value.until == datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    assert google_fake.calls.count("drafts.send") == 1  # no client retry
    assert google_fake.recipient_view(CONTACT).messages == []
    # The draft was not consumed: the same draft goes out later, once.
    mailbox.send_draft(draft)
    assert len(google_fake.recipient_view(CONTACT).messages) == 1


def test_other_429_is_transient_with_retry_after(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    draft = mailbox.create_draft(_first())
    google_fake.fail("drafts.send", 429, "Too many concurrent requests for user",
                     reason="rateLimitExceeded", headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as exc:
        mailbox.send_draft(draft)
    assert (exc.value.retry_after, exc.value.may_have_sent) == (7.0, False)
    assert google_fake.calls.count("drafts.send") == 1


@pytest.mark.parametrize(("route", "may_have_sent"),
                         [("drafts.send", True), ("drafts.create", False)])
def test_5xx_is_transient_and_may_have_sent_only_on_the_send(
    gmail_runtime: Runtime, google_fake: GoogleFake, route: str, may_have_sent: bool
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    draft = mailbox.create_draft(_first()) if route == "drafts.send" else None
    google_fake.fail(route, 503, "Backend Error", reason="backendError", times=3)
    with pytest.raises(TransientError) as exc:
        if draft is not None:
            mailbox.send_draft(draft)
        else:
            mailbox.create_draft(_first())
    assert exc.value.may_have_sent is may_have_sent
    assert google_fake.calls.count(route) == 1  # no client retry


def test_a_refused_message_is_permanent(gmail_runtime: Runtime, google_fake: GoogleFake) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    google_fake.fail("drafts.create", 400, "Invalid To header", reason="invalidArgument")
    with pytest.raises(PermanentError):
        mailbox.create_draft(_first())


def test_a_bad_reply_request_is_not_silently_unthreaded(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    mailbox = _open(gmail_runtime, google_fake)
    m1 = _first()
    s1 = _send(mailbox, m1)
    google_fake.fail("drafts.create", 400, "Invalid In-Reply-To", reason="invalidArgument")
    with pytest.raises(PermanentError):
        mailbox.create_draft(_reply("102", m1, s1, "", "<p>Again</p>"))
    assert google_fake.calls.count("drafts.create") == 2  # the first email, then this one


def test_a_mailbox_without_a_usable_grant_raises_auth_error_on_use(
    gmail_runtime: Runtime, google_fake: GoogleFake
) -> None:
    from addin_server import crypto
    from addin_server.enums import MailboxProvider
    from addin_server.models import Mailbox

    never = Mailbox(provider=MailboxProvider.GMAIL, address=REP)
    with pytest.raises(AuthError, match="no stored grant"):
        open_mailbox(gmail_runtime, None, never).create_draft(_first())  # type: ignore[arg-type]
    row = connected_gmail_row(gmail_runtime.settings, google_fake, REP)
    other_key = gmail_runtime.settings.with_(encryption_keys=(crypto.new_key(),))
    gmail_runtime.settings = other_key  # ENCRYPTION_KEYS lost the key that wrote the grant
    with pytest.raises(AuthError, match="cannot be decrypted"):
        open_mailbox(gmail_runtime, None, row).send_draft(DraftRef("r1"))  # type: ignore[arg-type]
    assert google_fake.calls == []
