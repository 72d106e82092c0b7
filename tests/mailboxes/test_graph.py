"""The Graph adapter against the fake authority + Graph, through the real msal and requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msal
import pytest

from addin_server import crypto
from addin_server.campaigns.quoting import quote_previous, reply_subject
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.credentials import load_microsoft
from addin_server.mailboxes.graph import GraphMailbox, NoSlots, RedisSlots
from addin_server.mailboxes.port import (
    SEND_ID_HEADER,
    AuthError,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    PreviousNotReady,
    SentRef,
    TransientError,
)
from addin_server.models import Mailbox
from addin_server.runtime import Runtime
from tests.conftest import FrozenClock
from tests.fakes.fixtures import connected_microsoft_row, persist_row
from tests.fakes.microsoft import MicrosoftFake

REP, CONTACT = "mia@contoso.test", "zoe@corp.test"
T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _row(rt: Runtime, fake: MicrosoftFake) -> Mailbox:
    return persist_row(rt, connected_microsoft_row(rt.settings, fake, REP))


def _open(rt: Runtime, row: Mailbox) -> GraphMailbox:
    mailbox = open_mailbox(rt, None, row)  # type: ignore[arg-type]
    assert isinstance(mailbox, GraphMailbox)
    return mailbox


def _first(send_id: str = "101") -> OutgoingMessage:
    return OutgoingMessage(send_id=send_id, from_addr=REP, from_name="Mia", to_addr=CONTACT,
                           subject="Quick question", html="<p>Hello Zoe</p>", text="Hello Zoe")


def _reply(send_id: str, previous: OutgoingMessage, sent: SentRef, new_html: str,
           references: str = "") -> OutgoingMessage:
    """A reply step as the send job makes it: the previous email's ids and when it went out."""
    return OutgoingMessage(
        send_id=send_id, from_addr=REP, from_name="Mia", to_addr=CONTACT,
        subject=reply_subject(previous.subject),
        html=quote_previous(new_html, previous.html, T0, "UTC", "Mia", REP), text=new_html,
        in_reply_to=sent.rfc_message_id, references=references, thread_id=sent.thread_id,
        reply_to_provider_id=sent.message_id, reply_to_sent_at=sent.sent_at,
        extra_headers=(("List-Unsubscribe", "<https://campaigns.example.test/u/t1>"),
                       ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")))


def _send(mailbox: GraphMailbox, message: OutgoingMessage) -> SentRef:
    return mailbox.send_draft(mailbox.create_draft(message))


def test_three_email_thread_as_sender_and_recipient_see_it(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    m1 = _first()
    s1 = _send(mailbox, m1)
    m2 = _reply("102", m1, s1, "<p>Following up</p>")
    s2 = _send(mailbox, m2)
    m3 = _reply("103", m2, s2, "<p>Last try</p>", references=s1.rfc_message_id or "")
    s3 = _send(mailbox, m3)

    # The rep's Sent Items: one conversation; the draft ids are the sent copies' ids.
    assert s1.thread_id == s2.thread_id == s3.thread_id
    box = microsoft_fake.mailbox(REP)
    assert [m.immutable_id for m in box.folder("sentitems")] == [
        s1.message_id, s2.message_id, s3.message_id]
    # Every Graph call asked for immutable ids.
    assert all(h.get("Prefer") == 'IdType="ImmutableId"'
               for _, _, h, _ in microsoft_fake.graph_requests)
    # Every draft was created from MIME (the replies too: built from the previous email's
    # Message-ID once it was in Sent Items), none by createReply.
    assert microsoft_fake.mime_drafts == 3
    assert microsoft_fake.calls.count("messages.createReply") == 0

    threads = microsoft_fake.recipient_view(CONTACT).threads()
    assert len(threads) == 1
    _, second, third = threads[0]
    assert [m.to_addrs for m in threads[0]] == [[CONTACT]] * 3
    assert second.subject == third.subject == "Re: Quick question"
    assert third.in_reply_to == s2.rfc_message_id
    assert third.references == [s1.rfc_message_id, s2.rfc_message_id]
    assert [m.message_id for m in threads[0]] == [
        s1.rfc_message_id, s2.rfc_message_id, s3.rfc_message_id]
    assert third.header(SEND_ID_HEADER) == "103"
    assert third.header("List-Unsubscribe") == "<https://campaigns.example.test/u/t1>"
    assert third.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    html = third.html
    assert html.index("Last try") < html.index("Following up") < html.index("Hello Zoe")
    assert html.count('<blockquote class="gmail_quote"') == 2
    assert mailbox.get_headers(s3.message_id, ["references", SEND_ID_HEADER]) == {
        "references": f"{s1.rfc_message_id} {s2.rfc_message_id}", SEND_ID_HEADER: "103"}


def test_find_sent_by_header_and_by_internet_message_id(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    sent = [_send(mailbox, _first(send_id=f"20{n}")) for n in range(3)]
    since = datetime.now(UTC) - timedelta(hours=1)
    found = mailbox.find_sent("201", since=since)
    assert found is not None
    assert (found.message_id, found.rfc_message_id, found.thread_id) == (
        sent[1].message_id, sent[1].rfc_message_id, sent[1].thread_id)
    assert mailbox.find_sent("999", since=since) is None
    assert mailbox.find_sent("201", since=datetime.now(UTC) + timedelta(hours=1)) is None
    by_id = mailbox.find_by_internet_message_id(sent[2].rfc_message_id or "")
    assert by_id is not None and by_id.message_id == sent[2].message_id


def test_a_lost_send_response_is_may_have_sent_and_found_once(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    draft = mailbox.create_draft(_first(send_id="301"))
    microsoft_fake.drop_after("messages.send")
    with pytest.raises(TransientError) as exc:
        mailbox.send_draft(draft)
    assert exc.value.may_have_sent is True
    assert microsoft_fake.calls.count("messages.send") == 1  # requests did not retry the POST
    found = mailbox.find_sent("301", since=datetime.now(UTC) - timedelta(minutes=5))
    assert found is not None and found.message_id == draft.draft_id
    assert len(microsoft_fake.recipient_view(CONTACT).messages) == 1
    # A second send of the consumed draft cannot send twice.
    with pytest.raises(TransientError) as again:
        mailbox.send_draft(draft)
    assert again.value.may_have_sent is True
    assert len(microsoft_fake.recipient_view(CONTACT).messages) == 1


def _expire_access_tokens(rt: Runtime, row: Mailbox) -> None:
    grant = load_microsoft(rt.settings, row)
    cache = json.loads(grant.cache)
    for entry in cache["AccessToken"].values():
        entry["expires_on"] = entry["extended_expires_on"] = "1000"
    row.credentials = crypto.encrypt(rt.settings, json.dumps({
        "kind": "microsoft", "cache": json.dumps(cache), "home_account_id":
        grant.home_account_id, "username": grant.username}))


def test_expired_access_token_is_refreshed_and_the_rotated_cache_stored(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    row = _row(graph_runtime, microsoft_fake)
    before = json.loads(load_microsoft(graph_runtime.settings, row).cache)["RefreshToken"]
    _send(_open(graph_runtime, row), _first(send_id="1"))
    assert microsoft_fake.calls.count("token.refresh") == 0  # the cached token was valid
    _expire_access_tokens(graph_runtime, row)
    with graph_runtime.sessions.begin() as s:  # what the database holds: the expired cache
        stored = s.get(Mailbox, row.id)
        assert stored is not None
        stored.credentials = row.credentials
    # The pipeline opens the adapter in a session that it closes before sending.
    with graph_runtime.sessions() as s:
        detached = s.get(Mailbox, row.id)
        assert detached is not None
        mailbox = open_mailbox(graph_runtime, s, detached)
    _send(mailbox, _first(send_id="2"))
    assert microsoft_fake.calls.count("token.refresh") == 1
    with graph_runtime.sessions() as s:
        row = s.get(Mailbox, row.id)  # type: ignore[assignment]
    after = json.loads(load_microsoft(graph_runtime.settings, row).cache)["RefreshToken"]
    old_secret = next(iter(before.values()))["secret"]
    new_secret = next(iter(after.values()))["secret"]
    assert new_secret and new_secret != old_secret  # the rotated refresh token was kept
    assert old_secret.encode() not in (row.credentials or b"")  # stored encrypted
    assert len(microsoft_fake.recipient_view(CONTACT).messages) == 2


def test_graph_401_refreshes_once_and_retries(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    microsoft_fake.fail("messages.create", 401, "InvalidAuthenticationToken", "expired")
    mailbox.create_draft(_first())
    assert microsoft_fake.calls.count("messages.create") == 2
    assert microsoft_fake.calls.count("token.refresh") == 1


@pytest.mark.parametrize("how", ["revoke", "require_interaction"])
def test_revoked_or_interactive_grant_is_auth_error(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, how: str
) -> None:
    row = _row(graph_runtime, microsoft_fake)
    _expire_access_tokens(graph_runtime, row)
    stored = row.credentials
    getattr(microsoft_fake, how)(REP)
    mailbox = _open(graph_runtime, row)
    with pytest.raises(AuthError, match=r"invalid_grant|interaction_required"):
        mailbox.create_draft(_first())
    assert row.credentials == stored  # the refresh token was not replaced by nothing
    assert microsoft_fake.recipient_view(CONTACT).messages == []


def test_429_retry_after_short_is_transient_long_or_on_send_pauses_the_mailbox(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    microsoft_fake.fail("messages.create", 429, "ApplicationThrottled", "throttled",
                        headers={"Retry-After": "5"})
    with pytest.raises(TransientError) as short:
        mailbox.create_draft(_first())
    assert (short.value.retry_after, short.value.may_have_sent) == (5.0, False)
    microsoft_fake.fail("messages.create", 429, "ApplicationThrottled", "throttled",
                        headers={"Retry-After": "300"})
    with pytest.raises(MailboxPaused) as long:
        mailbox.create_draft(_first())
    assert long.value.until == graph_runtime.now() + timedelta(seconds=300)
    draft = mailbox.create_draft(_first())
    microsoft_fake.fail("messages.send", 429, "ApplicationThrottled", "throttled",
                        headers={"Retry-After": "30"})
    with pytest.raises(MailboxPaused) as on_send:
        mailbox.send_draft(draft)
    # Graph does not process a throttled request: the mailbox waits, nothing to reconcile.
    assert on_send.value.until == graph_runtime.now() + timedelta(seconds=30)
    assert microsoft_fake.calls.count("messages.send") == 1
    microsoft_fake.fail("messages.send", 503, "ServiceUnavailable", "busy")
    with pytest.raises(TransientError) as failed:
        mailbox.send_draft(draft)
    assert failed.value.may_have_sent  # a failed send call may have gone out: reconcile


def test_a_refused_message_is_permanent(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    bad = OutgoingMessage(send_id="1", from_addr=REP, from_name="Mia", to_addr="not-an-address",
                          subject="x", html="<p>x</p>", text="x")
    with pytest.raises(PermanentError, match="ErrorInvalidRecipients"):
        mailbox.create_draft(bad)


def _hammer(mailbox: GraphMailbox, message_id: str, n: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            mailbox.get_headers(message_id, [SEND_ID_HEADER])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return errors


@pytest.mark.parametrize("limited", [True, False])
def test_at_most_four_requests_in_flight_per_mailbox(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, limited: bool
) -> None:
    row = _row(graph_runtime, microsoft_fake)
    mailbox = _open(graph_runtime, row)
    sent = _send(mailbox, _first())
    mailbox.tokens.get()  # warm the token cache so that the threads only call Graph
    assert isinstance(mailbox.slots, RedisSlots)
    if not limited:
        mailbox.slots = NoSlots()
    gate = microsoft_fake.hold()
    box = microsoft_fake.mailbox(REP)
    seen = len(microsoft_fake.graph_requests)
    # Open the gate once the fake holds 4 requests (limited), or has seen all 8 (control).
    ready = ((lambda: box.in_flight >= 4) if limited
             else (lambda: len(microsoft_fake.graph_requests) >= seen + 8))
    releaser = threading.Thread(target=lambda: (_wait(ready), gate.set()))
    releaser.start()
    errors = _hammer(mailbox, sent.message_id, 8)
    releaser.join(20)
    if limited:
        assert errors == []
        assert microsoft_fake.max_in_flight == 4
    else:  # the control: without the slots, Exchange's limit is hit
        assert microsoft_fake.max_in_flight > 4
        assert any(isinstance(e, TransientError) for e in errors)


def _wait(ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_slots_are_shared_through_redis(graph_runtime: Runtime) -> None:
    a = RedisSlots(graph_runtime.redis(), "graph-slots:test", 2, wait_seconds=0)
    b = RedisSlots(graph_runtime.redis(), "graph-slots:test", 2, wait_seconds=0)
    with a.slot(), b.slot(), pytest.raises(TransientError, match="busy"), a.slot():
        pass
    with a.slot():  # released on exit
        pass
    graph_runtime.redis().delete("graph-slots:test")


def test_msal_cache_without_refresh_token_is_not_stored() -> None:
    from addin_server.config import Settings
    from addin_server.mailboxes.credentials import MicrosoftGrant, save_microsoft

    settings = Settings(encryption_keys=(crypto.new_key(),))
    row = Mailbox()
    empty = msal.SerializableTokenCache().serialize()
    assert save_microsoft(settings, row, MicrosoftGrant(empty, "h", "u")) is False
    assert row.credentials is None


def test_a_reply_to_a_deleted_message_stays_in_the_thread(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake, clock: FrozenClock
) -> None:
    microsoft_fake.clock = clock
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    m1 = _first()
    s1 = _send(mailbox, m1)
    del microsoft_fake.mailbox(REP).messages[s1.message_id]  # the rep deleted it
    # Missing so soon after the send: it may still be on its way to Sent Items.
    with pytest.raises(PreviousNotReady, match="waiting for the previous email to reach "
                       "Sent Items"):
        mailbox.create_draft(_reply("102", m1, s1, "<p>Again</p>"))
    clock.advance(minutes=16)  # gone for good: the reply is built from what we know
    _send(mailbox, _reply("102", m1, s1, "<p>Again</p>"))
    assert microsoft_fake.calls.count("messages.createReply") == 0
    seen = microsoft_fake.recipient_view(CONTACT).messages
    assert [m.subject for m in seen] == ["Quick question", "Re: Quick question"]
    assert seen[1].in_reply_to == s1.rfc_message_id
    assert seen[1].references == [s1.rfc_message_id]
    assert len(microsoft_fake.recipient_view(CONTACT).threads()) == 1


def test_a_refused_mime_draft_is_permanent_and_nothing_else_is_made(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    mailbox = _open(graph_runtime, _row(graph_runtime, microsoft_fake))
    m1 = _first()
    s1 = _send(mailbox, m1)
    microsoft_fake.fail("messages.create", 400, "ErrorMimeContentInvalid", "bad")
    with pytest.raises(PermanentError):
        mailbox.create_draft(_reply("102", m1, s1, "<p>Again</p>"))
    assert microsoft_fake.calls.count("messages.create") == 2
    assert microsoft_fake.calls.count("messages.createReply") == 0
    assert microsoft_fake.mailbox(REP).folder("drafts") == []


def test_an_unreachable_authority_is_transient_on_use(
    graph_runtime: Runtime, microsoft_fake: MicrosoftFake
) -> None:
    row = _row(graph_runtime, microsoft_fake)
    graph_runtime.settings = graph_runtime.settings.with_(
        microsoft_authority="https://127.0.0.1:9/" + microsoft_fake.tenant)
    mailbox = open_mailbox(graph_runtime, None, row)  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="unreachable") as exc:
        mailbox.create_draft(_first())
    assert exc.value.may_have_sent is False
