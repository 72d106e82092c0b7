"""Compose like the rep's own mail client, through the real pipeline and the real client
libraries against the fake Gmail (served over TLS: google-api-python-client sends media uploads
to https only) and the fake Graph: Cc and Bcc on an automatic step and on an email task, the
rep's signature (below the body, above the quoted previous email), and attachments (a small one
and one above Graph's 3 MB inline limit) as each recipient receives them, exactly once, also
after a failed attempt. Both databases."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from flask.testing import FlaskClient
from rq import Queue

from addin_server.config import Settings
from addin_server.mailboxes.port import MAX_ATTACHMENTS_BYTES
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.fakes.fixtures import connected_gmail_row, connected_microsoft_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.mail import Delivered
from tests.fakes.microsoft import MicrosoftFake
from tests.fakes.server import serve
from tests.support.replies_providers import REP, provider_settings, rep_with
from tests.support.sending import cycle, email_step, launch, make_campaign

ZOE, BOSS, LOG = "zoe@corp.test", "boss@corp.test", "log@acme-crm.test"
NOTES = ("notes.txt", "text/plain", b"Agenda:\r\n1. pricing\r\n2. rollout\r\n")
DECK = ("Q4 deck.pdf", "application/pdf", os.urandom(5 * 1024 * 1024 + 12345))
SIGNATURE = '<p><b>Ann Smith</b> | Acme | {{sender_email}}</p><script>alert(1)</script>'

Fake = GoogleFake | MicrosoftFake


@pytest.fixture
def google_tls(fake_tls: tuple[str, str]) -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url = url
        yield fake
        fake.release.set()


@pytest.fixture(params=["gmail", "microsoft"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(provider: str, request: pytest.FixtureRequest) -> Fake:
    name = "google_tls" if provider == "gmail" else "microsoft_fake"
    found: Fake = request.getfixturevalue(name)
    return found


@pytest.fixture
def settings(settings: Settings, fake: Fake, fake_tls: tuple[str, str]) -> Settings:
    base = provider_settings(settings)
    if isinstance(fake, GoogleFake):
        return fake_settings(base, google=fake).with_(google_ca_bundle=fake_tls[0])
    return fake_settings(base, microsoft=fake)


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _rep(runtime: Runtime, client: FlaskClient, fake: Fake) -> Actor:
    if isinstance(fake, GoogleFake):
        row = connected_gmail_row(runtime.settings, fake, REP)
    else:
        row = connected_microsoft_row(runtime.settings, fake, REP)
    actor, _ = rep_with(runtime, client, row)
    return actor


def _inbox(fake: Fake, address: str) -> list[Delivered]:
    return fake.recipient_view(address).messages


def _files(message: Delivered) -> list[tuple[str, str, bytes]]:
    out = []
    for part in message.message.iter_attachments():
        assert isinstance(part, EmailMessage)
        out.append((str(part.get_filename()), part.get_content_type(),
                    bytes(part.get_payload(decode=True))))
    return out


def _upload(rep: Actor, name: str, ctype: str, data: bytes) -> int:
    response = rep.post("/api/v1/attachments", data={"file": (io.BytesIO(data), name, ctype)},
                        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["size"] == len(data) and response.json["filename"] == name
    return int(response.json["id"])


def _campaign(rep: Actor) -> int:
    steps = [email_step(1, subject="Quick question, {{first_name}}", cc=[BOSS], bcc=[LOG]),
             email_step(3, send_option="manual_task", reply_to_previous=True, subject="",
                        send_time=None, body_html="<p>Following up, {{first_name}}.</p>")]
    return make_campaign(rep, steps)


def test_cc_bcc_signature_and_attachments_reach_each_recipient_once(
    runtime: Runtime, client: FlaskClient, fake: Fake, clock: FrozenClock
) -> None:
    fake.clock = clock
    rep = _rep(runtime, client, fake)
    saved = rep.patch("/api/v1/me/signature", json={"signature_html": SIGNATURE})
    assert saved.status_code == 200, saved.json
    assert "<script" not in saved.json["signature_html"]
    assert rep.get("/api/v1/me").json["signature_html"] == saved.json["signature_html"]
    launch(rep, _campaign(rep), [{"email": ZOE, "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime, 2)

    # The automatic email: Cc shown to everyone, Bcc delivered but shown to nobody.
    (first,) = _inbox(fake, ZOE)
    assert first.header("Cc") == BOSS
    assert first.header("Bcc") is None
    assert "<b>Ann Smith</b> | Acme | ann@acme.test" in first.html
    assert "<script" not in first.html
    for other in (BOSS, LOG):
        (copy,) = _inbox(fake, other)
        assert copy.message_id == first.message_id and copy.header("Bcc") is None
        assert copy.to_addrs == [ZOE]

    # Day 3: the email task. Compose opens with the signature between the body and the quote.
    clock.set(datetime(2026, 11, 26, 8, 30, tzinfo=UTC))
    cycle(runtime, 1)
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    composed = rep.get(f"/api/v1/tasks/{task['id']}/compose").json
    body = composed["body_html"]
    assert body.index("Following up, Zoe.") < body.index("Ann Smith") < body.index(
        "gmail_quote")
    ids = [_upload(rep, *NOTES), _upload(rep, *DECK)]
    sent = rep.post(f"/api/v1/tasks/{task['id']}/send", json={
        "subject": composed["subject"], "body_html": body, "cc": [BOSS], "bcc": [LOG],
        "attachment_ids": ids})
    assert sent.status_code == 201, sent.json
    assert sent.json["cc"] == [BOSS] and sent.json["bcc"] == [LOG]
    cycle(runtime, 2)
    assert rep.get(f"/api/v1/sends/{sent.json['id']}").json["state"] == "sent"
    cycle(runtime, 1)  # nothing goes out twice

    zoe = _inbox(fake, ZOE)
    assert len(zoe) == 2
    second = zoe[1]
    assert second.in_reply_to == first.message_id
    assert second.header("Cc") == BOSS and second.header("Bcc") is None
    assert _files(second) == [NOTES, DECK]
    # The signature once, above the quoted first email (which carries its own).
    html = second.html
    assert html.count("ann@acme.test</p>") == 2
    assert html.index("Following up, Zoe.") < html.index("Ann Smith") < html.index("gmail_quote")
    for other in (BOSS, LOG):
        copies = _inbox(fake, other)
        assert len(copies) == 2 and copies[1].message_id == second.message_id
        assert copies[1].header("Bcc") is None
        assert _files(copies[1]) == [NOTES, DECK]

    if isinstance(fake, GoogleFake):
        # The email with attachments went as a multipart upload, the plain one as JSON raw.
        assert [u["upload_type"] for u in fake.uploads] == ["multipart"]
        assert fake.uploads[0]["path"] == "/upload/gmail/v1/users/me/drafts"
        (sent_copy,) = [m for m in fake.mailbox(REP).sent() if "Re:" in str(
            m.parsed["Subject"])]
        assert str(sent_copy.parsed["Bcc"]) == LOG  # the rep's own copy keeps it
    else:
        # Below 3 MB inline, above it an upload session in ranges of at most 4 MB.
        assert fake.calls.count("attachments.create") == 1
        assert fake.calls.count("attachments.createUploadSession") == 1
        total = len(DECK[2])
        assert fake.upload_puts[0] == f"bytes 0-{3276800 - 1}/{total}"
        assert fake.upload_puts[-1].endswith(f"-{total - 1}/{total}")


def test_a_failed_attachment_call_retries_with_every_file_and_sends_once(
    runtime: Runtime, client: FlaskClient, fake: Fake, clock: FrozenClock
) -> None:
    fake.clock = clock
    rep = _rep(runtime, client, fake)
    launch(rep, _campaign(rep), [{"email": ZOE, "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime, 2)
    clock.set(datetime(2026, 11, 26, 8, 30, tzinfo=UTC))
    cycle(runtime, 1)
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    ids = [_upload(rep, *DECK)]
    if isinstance(fake, GoogleFake):
        fake.fail("drafts.create", 503, "Backend Error", reason="backendError")
    else:
        fake.fail("attachments.upload", 503, "ServiceUnavailable", "try later")
    sent = rep.post(f"/api/v1/tasks/{task['id']}/send", json={
        "subject": "Re: Quick question, Zoe", "body_html": "<p>The deck, as promised.</p>",
        "attachment_ids": ids})
    assert sent.status_code == 201, sent.json
    cycle(runtime, 1)
    after = rep.get(f"/api/v1/sends/{sent.json['id']}").json
    assert after["state"] == "scheduled" and after["attempts"] == 1, after
    clock.advance(seconds=3600)
    cycle(runtime, 2)
    assert rep.get(f"/api/v1/sends/{sent.json['id']}").json["state"] == "sent"
    zoe = _inbox(fake, ZOE)
    assert len(zoe) == 2 and _files(zoe[1]) == [DECK]
    # The uploaded file stays with the email it went out with.
    assert rep.get(f"/api/v1/attachments/{ids[0]}").json["send_id"] == sent.json["id"]
    assert rep.delete(f"/api/v1/attachments/{ids[0]}").status_code == 409


def test_the_largest_email_allowed_fits_both_providers(
    runtime: Runtime, client: FlaskClient, fake: Fake, clock: FrozenClock
) -> None:
    """25,000,000 bytes of attachments and a long body: under Gmail's upload limit once
    encoded (the client library checks it before sending) and through Graph's upload session."""
    fake.clock = clock
    rep = _rep(runtime, client, fake)
    launch(rep, _campaign(rep), [{"email": ZOE, "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime, 2)
    clock.set(datetime(2026, 11, 26, 8, 30, tzinfo=UTC))
    cycle(runtime, 1)
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    data = os.urandom(MAX_ATTACHMENTS_BYTES)
    ids = [_upload(rep, "archive.zip", "application/zip", data)]
    too_much = _upload(rep, "one-more.txt", "text/plain", b"x")
    refused = rep.post(f"/api/v1/tasks/{task['id']}/send", json={
        "subject": "Re: Quick question, Zoe", "body_html": "<p>All of it.</p>",
        "attachment_ids": [*ids, too_much]})
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "attachment_ids"
    sent = rep.post(f"/api/v1/tasks/{task['id']}/send", json={
        "subject": "Re: Quick question, Zoe",
        "body_html": "<p>" + "All of it, as promised. " * 8000 + "</p>", "attachment_ids": ids})
    assert sent.status_code == 201, sent.json
    cycle(runtime, 1)
    assert rep.get(f"/api/v1/sends/{sent.json['id']}").json["state"] == "sent"
    got = _inbox(fake, ZOE)[1]
    assert _files(got) == [("archive.zip", "application/zip", data)]
