"""The fakes answer the real client libraries the way the providers do (the adapters' tests rely
on this; other parts reuse the fakes)."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import msal
import pytest
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.fakes.google import G, GoogleFake
from tests.fakes.microsoft import MicrosoftFake

GMAIL_SCOPES = [G + "gmail.compose", G + "gmail.metadata"]


def _gmail(fake: GoogleFake, address: str, scopes: list[str] = GMAIL_SCOPES):  # type: ignore[no-untyped-def]
    creds = Credentials(None, refresh_token=fake.seed_grant(address, scopes),
                        client_id=fake.client_id, client_secret=fake.client_secret,
                        token_uri=fake.token_uri, scopes=scopes)
    return build("gmail", "v1", credentials=creds, static_discovery=True,
                 client_options={"api_endpoint": fake.api_endpoint}, cache_discovery=False)


def _raw(frm: str, to: str, subject: str, body: str, **headers: str) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = frm, to, subject
    msg["Message-ID"] = f"<{subject.replace(' ', '')}@client.test>"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def test_gmail_fake_threads_only_with_thread_id_headers_subject(
    google_fake: GoogleFake,
) -> None:
    svc = _gmail(google_fake, "ann@acme.test")
    users = svc.users()
    d = users.drafts().create(userId="me", body={"message": {"raw": _raw(
        "ann@acme.test", "zoe@corp.test", "Hello", "first")}}).execute()
    sent = users.drafts().send(userId="me", body={"id": d["id"]}).execute()
    meta = users.messages().get(userId="me", id=sent["id"], format="metadata",
                                metadataHeaders=["Message-ID"]).execute()
    real_id = meta["payload"]["headers"][0]["value"]
    assert real_id.endswith("@mail.gmail.com>")  # Gmail replaced the client's Message-ID
    with pytest.raises(HttpError) as exc:  # a draft is consumed by sending it
        users.drafts().send(userId="me", body={"id": d["id"]}).execute()
    assert exc.value.resp.status == 404
    # Reply with all three conditions: same thread.
    r = users.messages().send(userId="me", body={"threadId": sent["threadId"], "raw": _raw(
        "ann@acme.test", "zoe@corp.test", "Re: Hello", "second", In_Reply_To=real_id,
        References=real_id)}).execute()
    assert r["threadId"] == sent["threadId"]
    # Without the headers, the threadId alone does not thread.
    r2 = users.messages().send(userId="me", body={"threadId": sent["threadId"], "raw": _raw(
        "ann@acme.test", "zoe@corp.test", "Re: Hello", "third")}).execute()
    assert r2["threadId"] != sent["threadId"]
    threads = google_fake.recipient_view("zoe@corp.test").threads()
    assert [len(t) for t in threads] == [2, 1]
    listed = users.messages().list(userId="me", labelIds=["SENT"]).execute()
    assert [m["id"] for m in listed["messages"]] == [r2["id"], r["id"], sent["id"]]


def test_gmail_fake_scopes_and_revocation(google_fake: GoogleFake) -> None:
    svc = _gmail(google_fake, "ann@acme.test", [G + "gmail.send"])
    with pytest.raises(HttpError) as exc:
        svc.users().getProfile(userId="me").execute()
    assert exc.value.resp.status == 403
    from google.auth.exceptions import RefreshError

    svc = _gmail(google_fake, "bob@acme.test")
    assert svc.users().getProfile(userId="me").execute()["emailAddress"] == "bob@acme.test"
    google_fake.revoke("bob@acme.test")
    google_fake.expire_access_tokens()
    with pytest.raises(RefreshError) as refresh:
        svc.users().getProfile(userId="me").execute()
    assert "invalid_grant" in str(refresh.value.args[0])


def _msal(
    fake: MicrosoftFake, cache: msal.SerializableTokenCache
) -> msal.ConfidentialClientApplication:
    http = requests.Session()
    http.trust_env = False
    http.verify = fake.ca_file
    return msal.ConfidentialClientApplication(
        fake.client_id, client_credential=fake.client_secret, authority=fake.authority,
        validate_authority=False, instance_discovery=False, token_cache=cache, http_client=http)


def test_microsoft_fake_speaks_msal_and_graph(microsoft_fake: MicrosoftFake) -> None:
    fake = microsoft_fake
    cache = msal.SerializableTokenCache()
    app = _msal(fake, cache)
    flow = app.initiate_auth_code_flow(["Mail.Send", "Mail.ReadWrite"],
                                       redirect_uri="https://app.test/cb")
    back = fake.consent(flow["auth_uri"], "mia@contoso.test")
    from urllib.parse import parse_qs, urlparse

    params = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    assert [a["username"] for a in app.get_accounts()] == ["mia@contoso.test"]
    http = requests.Session()
    http.trust_env = False
    http.verify = fake.ca_file
    headers = {"Authorization": "Bearer " + result["access_token"],
               "Prefer": 'IdType="ImmutableId"'}
    draft = http.post(fake.graph_base_url + "/me/messages", headers=headers, json={
        "subject": "Hi", "body": {"contentType": "HTML", "content": "<p>one</p>"},
        "toRecipients": [{"emailAddress": {"address": "zoe@corp.test"}}],
        "internetMessageHeaders": [{"name": "X-Campaign-Send-Id", "value": "7"}]}).json()
    assert http.post(f"{fake.graph_base_url}/me/messages/{draft['id']}/send",
                     headers=headers).status_code == 202
    assert http.post(f"{fake.graph_base_url}/me/messages/{draft['id']}/send",
                     headers=headers).status_code == 404
    flt = ("singleValueExtendedProperties/Any(ep: ep/id eq 'String "
           "{00020386-0000-0000-C000-000000000046} Name X-Campaign-Send-Id' and ep/value eq '7')")
    found = http.get(fake.graph_base_url + "/me/mailFolders/sentitems/messages",
                     params={"$filter": flt}, headers=headers).json()["value"]
    assert [m["id"] for m in found] == [draft["id"]]
    reply = http.post(f"{fake.graph_base_url}/me/messages/{draft['id']}/createReply",
                      headers=headers, json={"comment": "<p>two</p>"}).json()
    # Replying to one's own sent message addresses the rep unless told otherwise.
    assert reply["toRecipients"][0]["emailAddress"]["address"] == "mia@contoso.test"
    assert reply["conversationId"] == draft["conversationId"]
    seen = fake.recipient_view("zoe@corp.test").messages
    assert seen[0].header("X-Campaign-Send-Id") == "7"
    assert seen[0].message_id == draft["internetMessageId"]


def test_gmail_fake_history_threads_and_an_incoming_reply(google_fake: GoogleFake) -> None:
    svc = _gmail(google_fake, "ann@acme.test")
    users = svc.users()
    start = users.getProfile(userId="me").execute()["historyId"]
    sent = users.messages().send(userId="me", body={"raw": _raw(
        "ann@acme.test", "zoe@corp.test", "Hello", "first")}).execute()
    real_id = users.messages().get(userId="me", id=sent["id"], format="metadata",
                                   metadataHeaders=["Message-ID"]).execute()
    real_id = real_id["payload"]["headers"][0]["value"]
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "zoe@corp.test", "ann@acme.test", "Re: Hello"
    reply["In-Reply-To"] = reply["References"] = real_id
    reply.set_content("Sure, let's talk")
    incoming = google_fake.deliver("ann@acme.test", reply)
    assert incoming.thread_id == sent["threadId"]  # threaded on headers + subject
    history = users.history().list(userId="me", startHistoryId=start, labelId="INBOX",
                                   historyTypes=["messageAdded"]).execute()
    added = [h["messagesAdded"][0]["message"] for h in history["history"]]
    assert [(m["id"], m["threadId"]) for m in added] == [(incoming.id, sent["threadId"])]
    thread = users.threads().get(userId="me", id=sent["threadId"], format="metadata",
                                 metadataHeaders=["From", "In-Reply-To"]).execute()
    assert [len(m["payload"]["headers"]) for m in thread["messages"]] == [1, 2]
    google_fake.mailbox("ann@acme.test").oldest_history_id = int(history["historyId"])
    with pytest.raises(HttpError) as stale:
        users.history().list(userId="me", startHistoryId=start).execute()
    assert stale.value.resp.status == 404
