"""pytest fixtures that start the fakes on 127.0.0.1 (one fresh fake per test).

    def test_x(google_fake: GoogleFake, microsoft_fake: MicrosoftFake): ...

`fake_settings(settings, google_fake=..., microsoft_fake=...)` points a Settings at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from addin_server.config import Settings
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
    with serve(fake.wsgi) as running:
        fake.base_url = running.base_url
        yield fake


@pytest.fixture
def microsoft_fake(fake_tls: tuple[str, str]) -> Iterator[MicrosoftFake]:
    fake = MicrosoftFake()
    with serve(fake.wsgi, tls=fake_tls) as running:
        fake.base_url = running.base_url
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
