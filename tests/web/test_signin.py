"""Sign in with Google through google-auth-oauthlib and google-auth against the Google fake
served over TLS (real wire format: PKCE, signed ID token, certs URL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from addin_server.config import Settings
from addin_server.models import Rep
from tests.conftest import make_actor
from tests.fakes.google import GoogleFake
from tests.fakes.server import serve


@pytest.fixture
def google(fake_tls: tuple[str, str]) -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url, fake.ca_file = url, fake_tls[0]
        yield fake


@pytest.fixture
def settings(settings: Settings, google: GoogleFake) -> Settings:
    return settings.with_(
        google_client_id=google.client_id, google_client_secret=google.client_secret,
        google_auth_uri=google.base_url + "/o/oauth2/auth",
        google_token_uri=google.base_url + "/token",
        google_certs_url=google.base_url + "/oauth2/v1/certs",
        google_ca_bundle=google.ca_file,
    )


def csrf(client: FlaskClient) -> str:
    html = client.get("/signin").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def start(client: FlaskClient, next_path: str = "") -> str:
    response = client.post("/signin/google", data={"csrf_token": csrf(client), "next": next_path})
    assert response.status_code == 302
    location: str = response.headers["Location"]
    assert location.startswith(client.application.extensions["addin"].settings.google_auth_uri)
    return location


def me(client: FlaskClient) -> Any:
    return client.get("/api/v1/me")


def test_google_sign_in_links_the_rep_by_address_then_by_subject(
    client: FlaskClient, runtime: Any, google: GoogleFake
) -> None:
    actor = make_actor(runtime, client, "ann@acme.test")
    assert "Sign in with Google" in client.get("/signin").get_data(as_text=True)
    auth_url = start(client, next_path="/campaigns")
    assert "code_challenge_method=S256" in auth_url and "nonce=" in auth_url
    back = google.sign_in(auth_url, "ann@acme.test", sub="g-111")
    response = client.get("/signin/google/callback", query_string=back)
    assert response.status_code == 302 and response.headers["Location"] == "/campaigns"
    assert me(client).json["id"] == actor.rep_id
    with runtime.sessions() as s:
        assert s.get(Rep, actor.rep_id).google_sub == "g-111"
    # Signed out and in again: found by the Google subject.
    client.post("/signout", data={"csrf_token": csrf_of_page(client)})
    assert me(client).status_code == 401
    back = google.sign_in(start(client), "ann@acme.test", sub="g-111")
    client.get("/signin/google/callback", query_string=back)
    assert me(client).json["id"] == actor.rep_id


def csrf_of_page(client: FlaskClient) -> str:
    html = client.get("/campaigns").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def test_unknown_address_is_refused(client: FlaskClient, google: GoogleFake) -> None:
    back = google.sign_in(start(client), "stranger@elsewhere.test")
    response = client.get("/signin/google/callback", query_string=back, follow_redirects=True)
    assert "No rep account uses stranger@elsewhere.test" in response.get_data(as_text=True)
    assert me(client).status_code == 401


def test_another_google_account_cannot_take_a_linked_rep(
    client: FlaskClient, runtime: Any, google: GoogleFake
) -> None:
    make_actor(runtime, client, "ann@acme.test")
    client.get("/signin/google/callback",
               query_string=google.sign_in(start(client), "ann@acme.test", sub="g-111"))
    client.post("/signout", data={"csrf_token": csrf_of_page(client)})
    # Same address, another Google subject (e.g. a recycled account): refused.
    back = google.sign_in(start(client), "ann@acme.test", sub="g-999")
    client.get("/signin/google/callback", query_string=back)
    assert me(client).status_code == 401


def test_state_must_match_the_session(client: FlaskClient, google: GoogleFake,
                                      runtime: Any) -> None:
    make_actor(runtime, client, "ann@acme.test")
    back = google.sign_in(start(client), "ann@acme.test")
    forged = {**back, "state": "attacker-state"}
    response = client.get("/signin/google/callback", query_string=forged, follow_redirects=True)
    assert "not started here" in response.get_data(as_text=True)
    assert me(client).status_code == 401
    # A callback in a browser that never started the flow (login CSRF) is refused too.
    other = FlaskClient(client.application)
    assert other.get("/signin/google/callback", query_string=back).status_code == 302
    assert other.get("/api/v1/me").status_code == 401
    assert google.token_calls == 0


def test_a_token_for_another_client_is_refused(client: FlaskClient, google: GoogleFake,
                                               runtime: Any) -> None:
    make_actor(runtime, client, "ann@acme.test")
    google.issuer = "https://evil.example"
    back = google.sign_in(start(client), "ann@acme.test")
    response = client.get("/signin/google/callback", query_string=back, follow_redirects=True)
    assert "does not match" in response.get_data(as_text=True)
    assert me(client).status_code == 401


# --- Microsoft: msal against the Microsoft fake (tests/fakes, an Entra-like authority over TLS)


@pytest.fixture
def ms_client(app: Any, runtime: Any, microsoft_fake: Any) -> FlaskClient:
    from tests.fakes.fixtures import fake_settings

    runtime.settings = fake_settings(runtime.settings, microsoft=microsoft_fake).with_(
        outlook_allowed_tenants=(microsoft_fake.tenant,))
    return app.test_client()


def start_microsoft(client: FlaskClient) -> str:
    response = client.post("/signin/microsoft", data={"csrf_token": csrf(client),
                                                      "next": "/command?view=people"})
    assert response.status_code == 302
    location: str = response.headers["Location"]
    return location


def test_microsoft_sign_in(ms_client: FlaskClient, runtime: Any, microsoft_fake: Any) -> None:
    from urllib.parse import urlsplit

    actor = make_actor(runtime, ms_client, "bob@contoso.test")
    assert "Sign in with Microsoft" in ms_client.get("/signin").get_data(as_text=True)
    auth_uri = start_microsoft(ms_client)
    assert "code_challenge" in auth_uri and "openid" in auth_uri
    back = urlsplit(microsoft_fake.consent(auth_uri, "bob@contoso.test"))
    assert back.path == "/signin/microsoft/callback"
    response = ms_client.get(back.path + "?" + back.query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/command?view=people"
    assert me(ms_client).json["id"] == actor.rep_id
    with runtime.sessions() as s:
        rep = s.get(Rep, actor.rep_id)
        assert (rep.ms_oid, rep.ms_tid) == (microsoft_fake.mailbox("bob@contoso.test").user_id,
                                            microsoft_fake.tenant)


def test_microsoft_sign_in_refuses_unknown_people_and_other_tenants(
    ms_client: FlaskClient, runtime: Any, microsoft_fake: Any
) -> None:
    from urllib.parse import urlsplit

    back = urlsplit(microsoft_fake.consent(start_microsoft(ms_client), "eve@contoso.test"))
    page = ms_client.get(back.path + "?" + back.query, follow_redirects=True)
    assert "No rep account uses eve@contoso.test" in page.get_data(as_text=True)
    assert me(ms_client).status_code == 401
    make_actor(runtime, ms_client, "bob@contoso.test")
    runtime.settings = runtime.settings.with_(outlook_allowed_tenants=("another-tenant",))
    back = urlsplit(microsoft_fake.consent(start_microsoft(ms_client), "bob@contoso.test"))
    page = ms_client.get(back.path + "?" + back.query, follow_redirects=True)
    assert "organisation is not allowed" in page.get_data(as_text=True)
    assert me(ms_client).status_code == 401


def test_microsoft_sign_in_is_off_without_an_allowed_tenant(
    ms_client: FlaskClient, runtime: Any, microsoft_fake: Any
) -> None:
    make_actor(runtime, ms_client, "bob@contoso.test")
    runtime.settings = runtime.settings.with_(outlook_allowed_tenants=())
    page = ms_client.get("/signin").get_data(as_text=True)
    assert "Sign in with Microsoft" not in page
    assert "Microsoft sign-in is off: no Microsoft tenant is allowed" in page
    assert ms_client.post("/signin/microsoft",
                          data={"csrf_token": csrf(ms_client)}).status_code == 404


def test_microsoft_links_only_a_verified_address_and_never_overwrites(
    ms_client: FlaskClient, runtime: Any, microsoft_fake: Any
) -> None:
    from urllib.parse import urlsplit

    actor = make_actor(runtime, ms_client, "bob@contoso.test")
    microsoft_fake.email_domain_verified = False  # no xms_edov: the address proves nothing
    back = urlsplit(microsoft_fake.consent(start_microsoft(ms_client), "bob@contoso.test"))
    ms_client.get(back.path + "?" + back.query)
    assert me(ms_client).status_code == 401
    with runtime.sessions.begin() as s:
        rep = s.get(Rep, actor.rep_id)
        assert rep.ms_oid is None
        rep.ms_oid, rep.ms_tid = "someone-else", microsoft_fake.tenant  # linked already
    microsoft_fake.email_domain_verified = True
    back = urlsplit(microsoft_fake.consent(start_microsoft(ms_client), "bob@contoso.test"))
    ms_client.get(back.path + "?" + back.query)
    assert me(ms_client).status_code == 401
    with runtime.sessions() as s:
        assert s.get(Rep, actor.rep_id).ms_oid == "someone-else"


def test_google_links_only_at_a_domain_of_the_organisation(
    client: FlaskClient, runtime: Any, google: GoogleFake
) -> None:
    make_actor(runtime, client, "ann@acme.test")
    make_actor(runtime, client, "cat@gmail.test")  # in Acme, whose domain is acme.test
    back = google.sign_in(start(client), "cat@gmail.test", sub="g-222")
    client.get("/signin/google/callback", query_string=back)
    assert me(client).status_code == 401
    with runtime.sessions() as s:
        assert s.query(Rep).filter_by(email="cat@gmail.test").one().google_sub is None
