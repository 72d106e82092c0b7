"""Connecting a mailbox asks for the vacation scope only when the organisation reads rep
absence (Gmail gmail.settings.basic, Graph MailboxSettings.Read), and the grant it stores then
reads the responder through the real client libraries against the fakes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server import crypto
from addin_server.config import Settings
from addin_server.enums import MailboxProvider
from addin_server.models import Mailbox, Organisation, Rep
from addin_server.runtime import Runtime
from addin_server.workers.absence import read_mailbox_absence
from tests.conftest import Actor
from tests.fakes.fixtures import fake_settings
from tests.fakes.google import G, GoogleFake
from tests.fakes.microsoft import MicrosoftFake

GMAIL_ADDR = "ann@acme.test"


@pytest.fixture
def settings(settings: Settings, google_fake: GoogleFake, microsoft_fake: MicrosoftFake,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake Google is plain http
    return fake_settings(settings.with_(encryption_keys=(crypto.new_key(),)),
                         google=google_fake, microsoft=microsoft_fake)


def _browser(client: FlaskClient, rep: Actor) -> FlaskClient:
    with client.session_transaction() as s:
        s["rep_id"] = rep.rep_id
        s["session_version"] = 1
    return client


def _reads_absence(runtime: Runtime, rep: Actor) -> None:
    with runtime.sessions.begin() as s:
        owner = s.get(Rep, rep.rep_id)
        assert owner is not None
        org = s.get(Organisation, owner.org_id)
        assert org is not None
        org.read_absence = True


def _scopes(location: str) -> set[str]:
    return set(parse_qs(urlparse(location).query)["scope"][0].split())


def _finish(client: FlaskClient, url: str) -> None:
    parsed = urlparse(url)
    done = client.get(f"{parsed.path}?{parsed.query}")
    assert done.status_code == 200, done.text


def _row(runtime: Runtime, provider: MailboxProvider) -> int:
    with runtime.sessions() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.provider == provider))
        assert box is not None
        return box.id


def test_without_the_setting_the_scope_is_not_asked(
    client: FlaskClient, rep: Actor
) -> None:
    browser = _browser(client, rep)
    assert G + "gmail.settings.basic" not in _scopes(
        browser.get("/connect/google").headers["Location"])
    assert "MailboxSettings.Read" not in _scopes(
        browser.get("/connect/microsoft").headers["Location"])


def test_gmail_connect_asks_for_the_vacation_scope_and_reads_it(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_fake: GoogleFake
) -> None:
    _reads_absence(runtime, rep)
    start = _browser(client, rep).get("/connect/google").headers["Location"]
    assert G + "gmail.settings.basic" in _scopes(start)
    _finish(client, google_fake.consent(start, GMAIL_ADDR))
    google_fake.set_vacation(GMAIL_ADDR, on=True)
    box = _row(runtime, MailboxProvider.GMAIL)
    assert read_mailbox_absence(runtime, box) == "away"


def test_microsoft_connect_asks_for_the_vacation_scope_and_reads_it(
    runtime: Runtime, client: FlaskClient, rep: Actor, microsoft_fake: MicrosoftFake
) -> None:
    _reads_absence(runtime, rep)
    start = _browser(client, rep).get("/connect/microsoft").headers["Location"]
    assert "MailboxSettings.Read" in _scopes(start)
    _finish(client, microsoft_fake.consent(start, GMAIL_ADDR))
    microsoft_fake.set_automatic_replies(GMAIL_ADDR, "alwaysEnabled")
    box = _row(runtime, MailboxProvider.MICROSOFT)
    assert read_mailbox_absence(runtime, box) == "away"
