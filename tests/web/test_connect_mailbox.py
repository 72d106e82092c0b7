"""Connecting mailboxes from the web: the real google-auth-oauthlib and msal flows against the
fakes, the grant stored encrypted, reconnection, refusals. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server import crypto, feed
from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.credentials import load_google, load_microsoft, save_google
from addin_server.mailboxes.port import OutgoingMessage
from addin_server.models import Event, Mailbox
from addin_server.runtime import Runtime
from tests.conftest import Actor
from tests.fakes.fixtures import fake_settings
from tests.fakes.google import G, GoogleFake
from tests.fakes.microsoft import MicrosoftFake

GMAIL_ADDR, MS_ADDR = "ann.gmail@acme.test", "ann.ms@acme.test"


@pytest.fixture
def settings(settings: Settings, google_fake: GoogleFake, microsoft_fake: MicrosoftFake,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    # The fake Google token endpoint is plain http on 127.0.0.1; oauthlib insists on https.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return fake_settings(settings.with_(encryption_keys=(crypto.new_key(),)),
                         google=google_fake, microsoft=microsoft_fake)


def _browser(client: FlaskClient, rep: Actor) -> FlaskClient:
    with client.session_transaction() as s:
        s["rep_id"] = rep.rep_id
        s["session_version"] = 1
    return client


def _follow(client: FlaskClient, url: str):  # type: ignore[no-untyped-def]
    parsed = urlparse(url)
    assert parsed.path.startswith("/connect/")
    return client.get(f"{parsed.path}?{parsed.query}")


def _mailboxes(runtime: Runtime, provider: MailboxProvider) -> list[Mailbox]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Mailbox).where(Mailbox.provider == provider)))


def _send_one(runtime: Runtime, row: Mailbox, send_id: str) -> None:
    with runtime.sessions() as s:
        row = s.get(Mailbox, row.id)  # type: ignore[assignment]
        mailbox = open_mailbox(runtime, s, row)
        mailbox.send_draft(mailbox.create_draft(OutgoingMessage(
            send_id=send_id, from_addr=row.address, from_name="Ann", to_addr="zoe@corp.test",
            subject="Hi", html="<p>Hi</p>", text="Hi")))
        s.commit()


def test_google_connect_in_the_browser_stores_an_encrypted_refresh_token(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake
) -> None:
    start = _browser(client, rep).get("/connect/google")
    assert start.status_code == 302
    auth = urlparse(start.headers["Location"])
    q = {k: v[0] for k, v in parse_qs(auth.query).items()}
    assert f"{auth.scheme}://{auth.netloc}{auth.path}" == google_fake.auth_uri
    assert (q["access_type"], q["prompt"], q["code_challenge_method"]) == (
        "offline", "consent", "S256")
    assert q["redirect_uri"] == "https://campaigns.example.test/connect/google/callback"
    assert {G + "gmail.compose", G + "gmail.metadata"} <= set(q["scope"].split())

    done = _follow(client, google_fake.consent(start.headers["Location"], GMAIL_ADDR))
    assert done.status_code == 200, done.text
    assert f"{GMAIL_ADDR} is connected" in done.text
    # The code was redeemed with the PKCE verifier.
    redeem = next(r for r in google_fake.token_requests if r["grant_type"] == "authorization_code")
    assert redeem["code_verifier"]

    [row] = _mailboxes(runtime, MailboxProvider.GMAIL)
    assert (row.rep_id, row.address, row.status) == (rep.rep_id, GMAIL_ADDR,
                                                      MailboxStatus.CONNECTED)
    assert (row.daily_cap, row.min_gap_seconds) == (450, 20)
    grant = load_google(runtime.settings, row)
    assert grant.refresh_token.startswith("1//")
    assert grant.refresh_token.encode() not in (row.credentials or b"")
    _send_one(runtime, row, "c1")
    assert len(google_fake.recipient_view("zoe@corp.test").messages) == 1


def test_google_connect_from_an_api_token(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake,
    app: object,
) -> None:
    started = rep.post("/connect/google")
    assert started.status_code == 200
    url = started.get_json()["authorization_url"]
    # The rep opens the URL in a browser that has no session with us.
    fresh = app.test_client()  # type: ignore[attr-defined]
    done = _follow(fresh, google_fake.consent(url, GMAIL_ADDR))
    assert done.status_code == 200, done.text
    assert [m.rep_id for m in _mailboxes(runtime, MailboxProvider.GMAIL)] == [rep.rep_id]
    assert client.post("/connect/google").status_code == 401  # no token, no session


def test_state_is_checked_and_used_once(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake, app: object
) -> None:
    start = _browser(client, rep).get("/connect/google")
    back = google_fake.consent(start.headers["Location"], GMAIL_ADDR)
    forged = back.replace("state=", "state=x")
    assert _follow(client, forged).status_code == 400
    # Another browser cannot finish a flow started in the rep's session.
    other = app.test_client()  # type: ignore[attr-defined]
    assert _follow(other, back).status_code == 400
    assert _mailboxes(runtime, MailboxProvider.GMAIL) == []
    # ... and the state is spent: the rep's own browser cannot replay it either.
    assert _follow(client, back).status_code == 400


def test_refusals_store_nothing(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake
) -> None:
    browser = _browser(client, rep)
    denied = google_fake.consent(browser.get("/connect/google").headers["Location"],
                                 GMAIL_ADDR, deny=True)
    page = _follow(browser, denied)
    assert page.status_code == 400 and "access_denied" in page.text
    partial = google_fake.consent(browser.get("/connect/google").headers["Location"],
                                  GMAIL_ADDR, granted=["openid", G + "gmail.compose"])
    page = _follow(browser, partial)
    assert page.status_code == 400 and "gmail.metadata" in page.text
    assert _mailboxes(runtime, MailboxProvider.GMAIL) == []


def test_reconnecting_a_disconnected_mailbox_keeps_the_refresh_token_if_none_comes(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake
) -> None:
    browser = _browser(client, rep)
    _follow(browser, google_fake.consent(browser.get("/connect/google").headers["Location"],
                                         GMAIL_ADDR))
    [row] = _mailboxes(runtime, MailboxProvider.GMAIL)
    first = load_google(runtime.settings, row).refresh_token
    with runtime.sessions.begin() as s:
        stored = s.get(Mailbox, row.id)
        assert stored is not None
        stored.status, stored.status_reason = MailboxStatus.DISCONNECTED, "revoked"
    google_fake.withhold_refresh_token = True
    done = _follow(browser, google_fake.consent(
        browser.get("/connect/google").headers["Location"], GMAIL_ADDR))
    assert done.status_code == 200, done.text
    [row] = _mailboxes(runtime, MailboxProvider.GMAIL)
    assert (row.status, row.status_reason) == (MailboxStatus.CONNECTED, "")
    assert load_google(runtime.settings, row).refresh_token == first
    with runtime.sessions() as s:
        events = [e.type for e in s.scalars(select(Event).order_by(Event.id))]
    assert events.count(feed.MAILBOX_RECONNECTED) == 1


def test_save_google_never_stores_an_empty_token(runtime: Runtime) -> None:
    from addin_server.mailboxes.credentials import MissingGrant

    row = Mailbox()
    settings = runtime.settings
    with pytest.raises(MissingGrant):
        save_google(settings, row, None, [])
    save_google(settings, row, "1//first", ["a"])
    save_google(settings, row, "", ["a", "b"])
    assert load_google(settings, row).refresh_token == "1//first"
    assert load_google(settings, row).scopes == ("a", "b")


def test_microsoft_connect_in_the_browser_stores_the_encrypted_msal_cache(
    runtime: Runtime, client: FlaskClient, rep: Actor, microsoft_fake: MicrosoftFake
) -> None:
    start = _browser(client, rep).get("/connect/microsoft")
    assert start.status_code == 302
    q = {k: v[0] for k, v in parse_qs(urlparse(start.headers["Location"]).query).items()}
    assert q["code_challenge_method"] == "S256" and q["prompt"] == "select_account"
    assert {"Mail.Send", "Mail.ReadWrite", "User.Read", "offline_access"} <= set(
        q["scope"].split())
    assert q["redirect_uri"] == "https://campaigns.example.test/connect/microsoft/callback"
    done = _follow(client, microsoft_fake.consent(start.headers["Location"], MS_ADDR))
    assert done.status_code == 200, done.text
    [row] = _mailboxes(runtime, MailboxProvider.MICROSOFT)
    assert (row.address, row.status, row.daily_cap, row.min_gap_seconds) == (
        MS_ADDR, MailboxStatus.CONNECTED, 2000, 5)
    grant = load_microsoft(runtime.settings, row)
    cache = json.loads(grant.cache)
    secret = next(iter(cache["RefreshToken"].values()))["secret"]
    assert secret.encode() not in (row.credentials or b"")
    _send_one(runtime, row, "m1")
    assert len(microsoft_fake.recipient_view("zoe@corp.test").messages) == 1


def test_microsoft_state_mismatch_is_refused(
    runtime: Runtime, client: FlaskClient, rep: Actor, microsoft_fake: MicrosoftFake
) -> None:
    start = _browser(client, rep).get("/connect/microsoft")
    back = microsoft_fake.consent(start.headers["Location"], MS_ADDR)
    assert _follow(client, back.replace("code=", "code=x")).status_code == 400
    assert _mailboxes(runtime, MailboxProvider.MICROSOFT) == []


def test_unknown_provider_and_missing_configuration(
    runtime: Runtime, client: FlaskClient, rep: Actor
) -> None:
    browser = _browser(client, rep)
    assert browser.get("/connect/yahoo").status_code == 404
    assert client.get("/connect/google/callback?state=nope").status_code == 400


def test_rotate_keys_re_encrypts_stored_grants(runtime: Runtime, rep: Actor) -> None:
    from cryptography.fernet import Fernet

    from addin_server.cli.keys import rotate_secrets

    old = runtime.settings
    with runtime.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL, address="x@acme.test",
                      credentials=crypto.encrypt(old, json.dumps(
                          {"kind": "google", "refresh_token": "1//r", "scopes": []}))))
    new_key = Fernet.generate_key().decode()
    both = old.with_(encryption_keys=(new_key, *old.encryption_keys))
    with runtime.sessions.begin() as s:
        assert rotate_secrets(s, both) == 1
    only_new = old.with_(encryption_keys=(new_key,))
    with runtime.sessions() as s:
        row = s.scalars(select(Mailbox).where(Mailbox.provider == MailboxProvider.GMAIL)).one()
        assert load_google(only_new, row).refresh_token == "1//r"
