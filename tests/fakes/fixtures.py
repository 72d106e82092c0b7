"""pytest fixtures that start the fakes on 127.0.0.1 (one fresh fake per test).

    def test_x(google_fake: GoogleFake, microsoft_fake: MicrosoftFake): ...

`fake_settings(settings, google_fake=..., microsoft_fake=...)` points a Settings at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from addin_server.config import Settings
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.models import Mailbox
from addin_server.runtime import Runtime
from tests.fakes.google import GoogleFake
from tests.fakes.microsoft import MicrosoftFake
from tests.fakes.server import serve
from tests.fakes.tls import self_signed


@pytest.fixture(scope="session")
def fake_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def google_fake() -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi) as url:
        fake.base_url = url
        yield fake
        fake.release.set()  # a held call must not keep its request thread waiting


@pytest.fixture
def microsoft_fake(fake_tls: tuple[str, str]) -> Iterator[MicrosoftFake]:
    fake = MicrosoftFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url = url
        fake.ca_file = fake_tls[0]
        yield fake


def fake_settings(settings: Settings, *, google: GoogleFake | None = None,
                  microsoft: MicrosoftFake | None = None) -> Settings:
    """`settings` with every Google / Microsoft URL pointing at the given fakes."""
    changes: dict[str, object] = {}
    if google is not None:
        changes.update(google_client_id=google.client_id,
                       google_client_secret=google.client_secret,
                       google_auth_uri=google.auth_uri, google_token_uri=google.token_uri,
                       gmail_api_endpoint=google.api_endpoint)
    if microsoft is not None:
        changes.update(microsoft_client_id=microsoft.client_id,
                       microsoft_client_secret=microsoft.client_secret,
                       microsoft_authority=microsoft.authority,
                       graph_base_url=microsoft.graph_base_url,
                       microsoft_ca_bundle=microsoft.ca_file)
    return settings.with_(**changes)


def connected_gmail_row(settings: Settings, fake: GoogleFake, address: str, *,
                        rep_id: int = 0, scopes: list[str] | None = None) -> Mailbox:
    """A Gmail Mailbox row (not added to any session) holding an encrypted grant that the fake
    accepts, as if the rep had connected it."""
    from addin_server.mailboxes.credentials import save_google
    from addin_server.mailboxes.gmail import GOOGLE_SCOPES

    granted = scopes or GOOGLE_SCOPES
    row = Mailbox(rep_id=rep_id, provider=MailboxProvider.GMAIL, address=address.lower(),
                  status=MailboxStatus.CONNECTED)
    save_google(settings, row, fake.seed_grant(address, granted), granted)
    return row


def microsoft_cache_for(settings: Settings, fake: MicrosoftFake, address: str,
                        scopes: list[str] | None = None) -> tuple[str, str]:
    """Run msal's real auth-code flow against the fake; returns (cache blob, home_account_id)."""
    import msal

    from addin_server.mailboxes.graph import MICROSOFT_SCOPES, msal_app

    cache = msal.SerializableTokenCache()
    app = msal_app(settings, cache)
    flow = app.initiate_auth_code_flow(scopes or MICROSOFT_SCOPES,
                                       redirect_uri="https://app.test/cb")
    back = fake.consent(flow["auth_uri"], address)
    params = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    account = app.get_accounts(username=address.lower())[0]
    return cache.serialize(), str(account["home_account_id"])


def connected_microsoft_row(settings: Settings, fake: MicrosoftFake, address: str, *,
                            rep_id: int = 0, scopes: list[str] | None = None) -> Mailbox:
    from addin_server.mailboxes.credentials import MicrosoftGrant, save_microsoft

    blob, home = microsoft_cache_for(settings, fake, address, scopes)
    row = Mailbox(rep_id=rep_id, provider=MailboxProvider.MICROSOFT, address=address.lower(),
                  status=MailboxStatus.CONNECTED)
    assert save_microsoft(settings, row, MicrosoftGrant(blob, home, address.lower()))
    return row


def _adapter_runtime(tmp_path: Path, clock: Any, sqlite_template: Path, **changes: Any
                     ) -> Runtime:
    import os
    import shutil

    from cryptography.fernet import Fernet

    db_file = tmp_path / "adapters.sqlite3"
    shutil.copy(sqlite_template, db_file)
    base = Settings(database_url=f"sqlite:///{db_file}",
                    redis_url=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
                    instance_path=str(tmp_path / "instance"), secret_key="test-secret",
                    encryption_keys=(Fernet.generate_key().decode(),),
                    public_base_url="https://campaigns.example.test")
    return Runtime.from_settings(base.with_(**changes), clock=clock)


def persist_row(rt: Runtime, row: Mailbox, rep_email: str = "rep@acme.test") -> Mailbox:
    """Store a Mailbox row made by the helpers above, under a new rep; returns it (detached,
    with its id)."""
    from addin_server.accounts import create_rep

    with rt.sessions.begin() as s:
        rep = create_rep(s, email=rep_email, org_name="Acme", now=rt.now())
        row.rep_id = rep.id
        row.created_at = row.updated_at = rt.now()
        s.add(row)
        s.flush()
    return row


@pytest.fixture
def gmail_runtime(google_fake: GoogleFake, tmp_path: Path, clock: Any, sqlite_template: Path
                  ) -> Iterator[Runtime]:
    """A Runtime (SQLite) whose settings point at the Google fake."""
    rt = _adapter_runtime(tmp_path, clock, sqlite_template)
    rt.settings = fake_settings(rt.settings, google=google_fake)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def graph_runtime(microsoft_fake: MicrosoftFake, tmp_path: Path, clock: Any,
                  sqlite_template: Path) -> Iterator[Runtime]:
    """A Runtime (SQLite) whose settings point at the Microsoft fake; its Redis is the test
    Redis (the Graph concurrency slots live there)."""
    rt = _adapter_runtime(tmp_path, clock, sqlite_template)
    rt.settings = fake_settings(rt.settings, microsoft=microsoft_fake)
    rt.redis().delete(*rt.redis().keys("graph-slots:*") or ["-"])
    yield rt
    rt.engine.dispose()


@pytest.fixture
def smtp_fake() -> Iterator[Any]:
    """A local SMTP relay that keeps what it receives (`.messages`, `.url`, `.refuse`)."""
    from tests.fakes.smtp import serve_smtp

    with serve_smtp() as fake:
        yield fake
