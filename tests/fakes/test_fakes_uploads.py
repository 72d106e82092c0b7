"""The fakes take attachments the way the providers do, from the real client libraries:
Gmail's media upload of messages.send (multipart and media), its size limit and Bcc; Graph's
upload session refusing what the service refuses (an Authorization header on the pre-
authorised URL, a range out of order, a range over 4 MB, a small file given inline over 3 MB)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs, urlparse

import httplib2
import msal
import pytest
import requests
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import MediaUploadSizeError
from googleapiclient.http import MediaIoBaseUpload

from tests.fakes.google import UPLOAD_LIMIT, G, GoogleFake
from tests.fakes.microsoft import MicrosoftFake
from tests.fakes.server import serve

SCOPES = [G + "gmail.send", G + "gmail.metadata"]


@pytest.fixture
def google_tls(fake_tls: tuple[str, str]) -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url = url
        yield fake


def _gmail(fake: GoogleFake, ca: str):  # type: ignore[no-untyped-def]
    creds = Credentials(None, refresh_token=fake.seed_grant("ann@acme.test", SCOPES),
                        client_id=fake.client_id, client_secret=fake.client_secret,
                        token_uri=fake.token_uri, scopes=SCOPES)
    http = AuthorizedHttp(creds, http=httplib2.Http(ca_certs=ca))
    return build("gmail", "v1", http=http, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": fake.api_endpoint})


def _mime(data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "ann@acme.test", "zoe@corp.test"
    msg["Bcc"] = "log@crm.test"
    msg["Subject"] = "The deck"
    msg.set_content("Attached.")
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="deck.pdf")
    return msg.as_bytes()


def test_gmail_messages_send_takes_media_uploads(google_tls: GoogleFake,
                                                 fake_tls: tuple[str, str]) -> None:
    service = _gmail(google_tls, fake_tls[0])
    data = os.urandom(3 * 1024 * 1024)
    media = MediaIoBaseUpload(io.BytesIO(_mime(data)), mimetype="message/rfc822")
    sent = service.users().messages().send(userId="me", body={}, media_body=media).execute()
    media = MediaIoBaseUpload(io.BytesIO(_mime(b"second")), mimetype="message/rfc822")
    service.users().messages().send(userId="me", media_body=media).execute()
    assert [u["upload_type"] for u in google_tls.uploads] == ["multipart", "media"]
    assert {u["path"] for u in google_tls.uploads} == {
        "/upload/gmail/v1/users/me/messages/send"}
    first, _ = google_tls.recipient_view("zoe@corp.test").messages
    (part,) = first.message.iter_attachments()
    assert part.get_payload(decode=True) == data  # type: ignore[union-attr]
    assert first.header("Bcc") is None
    assert len(google_tls.recipient_view("log@crm.test").messages) == 2
    own = google_tls.mailbox("ann@acme.test").messages[sent["id"]]
    assert str(own.parsed["Bcc"]) == "log@crm.test"
    # Above the limit the client library refuses before any request; the fake refuses too.
    too_big = b"x" * (UPLOAD_LIMIT + 1)
    with pytest.raises(MediaUploadSizeError):
        service.users().messages().send(userId="me", body={}, media_body=MediaIoBaseUpload(
            io.BytesIO(too_big), mimetype="message/rfc822"))
    token = google_tls.grant_access_token("ann@acme.test")
    refused = requests.post(
        f"{google_tls.base_url}/upload/gmail/v1/users/me/messages/send?uploadType=media",
        data=too_big, headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "message/rfc822"}, verify=fake_tls[0])
    assert refused.status_code == 413


def _graph(fake: MicrosoftFake) -> tuple[requests.Session, str]:
    app = msal.ConfidentialClientApplication(
        fake.client_id, client_credential=fake.client_secret, authority=fake.authority,
        validate_authority=False, instance_discovery=False,
        http_client=_verified(fake))
    flow = app.initiate_auth_code_flow(["Mail.ReadWrite", "Mail.Send"],
                                       redirect_uri="https://app.test/cb")
    back = fake.consent(flow["auth_uri"], "mia@contoso.test")
    params = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    token = app.acquire_token_by_auth_code_flow(flow, params)["access_token"]
    session = _verified(fake)
    session.headers["Authorization"] = f"Bearer {token}"
    return session, fake.graph_base_url


def _verified(fake: MicrosoftFake) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = fake.ca_file
    return s


def test_graph_upload_sessions_refuse_what_graph_refuses(microsoft_fake: MicrosoftFake) -> None:
    http, base = _graph(microsoft_fake)
    draft = http.post(f"{base}/me/messages", json={
        "subject": "Deck", "body": {"contentType": "HTML", "content": "<p>Attached</p>"},
        "toRecipients": [{"emailAddress": {"address": "zoe@corp.test"}}],
        "bccRecipients": [{"emailAddress": {"address": "log@crm.test"}}]}).json()
    big = os.urandom(3 * 1024 * 1024)
    inline = http.post(f"{base}/me/messages/{draft['id']}/attachments", json={
        "@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin",
        "contentBytes": base64.b64encode(big).decode()})
    assert inline.status_code == 413
    session = http.post(f"{base}/me/messages/{draft['id']}/attachments/createUploadSession",
                        json={"AttachmentItem": {"attachmentType": "file", "name": "big.bin",
                                                 "size": len(big)}})
    assert session.status_code == 201 and session.json()["nextExpectedRanges"] == ["0-"]
    url = session.json()["uploadUrl"]
    half = len(big) // 2
    # The pre-authorised URL refuses our token; ranges go in order, at most 4 MB each.
    assert http.put(url, data=big[:half], headers={
        "Content-Range": f"bytes 0-{half - 1}/{len(big)}"}).status_code == 401
    plain = _verified(microsoft_fake)
    assert plain.put(url, data=big[half:], headers={
        "Content-Range": f"bytes {half}-{len(big) - 1}/{len(big)}"}).status_code == 416
    first = plain.put(url, data=big[:half], headers={
        "Content-Range": f"bytes 0-{half - 1}/{len(big)}"})
    assert first.status_code == 200 and first.json()["nextExpectedRanges"] == [f"{half}-"]
    last = plain.put(url, data=big[half:], headers={
        "Content-Range": f"bytes {half}-{len(big) - 1}/{len(big)}"})
    assert last.status_code == 201 and "/attachments('" in last.headers["Location"]
    assert http.post(f"{base}/me/messages/{draft['id']}/send").status_code == 202
    (got,) = microsoft_fake.recipient_view("zoe@corp.test").messages
    (part,) = got.message.iter_attachments()
    assert part.get_payload(decode=True) == big  # type: ignore[union-attr]
    assert got.header("Bcc") is None
    (copy,) = microsoft_fake.recipient_view("log@crm.test").messages
    assert copy.message_id == got.message_id
