"""GOOGLE_CA_BUNDLE is honoured by every Google client: Google (the fake) serves TLS with a
certificate only that bundle trusts, and connecting a Gmail mailbox (google-auth-oauthlib's
code exchange over requests, the Gmail API over httplib2 to read the address), refreshing its
grant and sending through it all work. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from flask.testing import FlaskClient

from addin_server import crypto
from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.runtime import Runtime
from tests.conftest import Actor
from tests.fakes.fixtures import fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.server import serve
from tests.web.test_connect_mailbox import _browser, _mailboxes, _send_one

GMAIL_ADDR = "ann.gmail@acme.test"


@pytest.fixture
def google_tls(fake_tls: tuple[str, str]) -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url, fake.ca_file = url, fake_tls[0]
        yield fake


@pytest.fixture
def settings(settings: Settings, google_tls: GoogleFake, monkeypatch: pytest.MonkeyPatch
             ) -> Settings:
    # Only the setting may make the fake's certificate trusted.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return fake_settings(settings.with_(encryption_keys=(crypto.new_key(),),
                                        google_ca_bundle=google_tls.ca_file), google=google_tls)


def test_connecting_and_sending_trust_the_google_ca_bundle(
    runtime: Runtime, client: FlaskClient, rep: Actor, google_tls: GoogleFake
) -> None:
    assert google_tls.token_uri.startswith("https://")
    start = _browser(client, rep).get("/connect/google")
    assert start.status_code == 302
    consent = urlparse(google_tls.consent(start.headers["Location"], GMAIL_ADDR))
    done = client.get(f"{consent.path}?{consent.query}")
    assert done.status_code == 200, done.text
    assert f"{GMAIL_ADDR} is connected" in done.text
    [row] = _mailboxes(runtime, MailboxProvider.GMAIL)
    assert row.status == MailboxStatus.CONNECTED
    google_tls.expire_access_tokens()  # the send refreshes the grant first
    _send_one(runtime, row, "c1")
    assert len(google_tls.recipient_view("zoe@corp.test").messages) == 1
