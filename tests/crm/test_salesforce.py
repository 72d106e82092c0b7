"""The Salesforce adapter (requests) against the fake Salesforce on 127.0.0.1: OAuth with PKCE,
the REST calls the sync makes, error classification, the allocation header."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from addin_server.crm.port import (
    CrmAuthError,
    CrmLimitError,
    CrmNotFound,
    CrmPermanentError,
    CrmTransientError,
    KeyFields,
)
from addin_server.crm.salesforce import (
    SalesforceCrm,
    Tokens,
    authorize_url,
    code_challenge,
    exchange_code,
    key_marker,
    new_verifier,
    refresh_tokens,
    signature_ok,
    soql_string,
)
from tests.conftest import FrozenClock
from tests.fakes.salesforce import FakeSalesforce, FakeServer, parse_soql


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    with FakeServer(FakeSalesforce(clock=FrozenClock())) as f:
        yield f


def login(fake: FakeSalesforce, login_url: str | None = None) -> Tokens:
    """The browser leg (authorize) and the server leg (code for tokens)."""
    verifier = new_verifier()
    url = authorize_url(login_url or fake.url, client_id=fake.client_id,
                        redirect_uri="https://app.test/cb", state="s1", verifier=verifier)
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return exchange_code(requests.Session(), login_url or fake.url, client_id=fake.client_id,
                         client_secret=fake.client_secret, code=query["code"][0],
                         redirect_uri="https://app.test/cb", verifier=verifier, timeout=5)


class Refresher:
    """Counts refreshes and hands the client a fresh token from the fake's token endpoint."""

    def __init__(self, fake: FakeSalesforce, refresh_token: str) -> None:
        self.fake, self.refresh_token, self.count = fake, refresh_token, 0

    def __call__(self) -> str:
        self.count += 1
        tokens = refresh_tokens(requests.Session(), self.fake.url, client_id=self.fake.client_id,
                                client_secret=self.fake.client_secret,
                                refresh_token=self.refresh_token, timeout=5)
        return tokens.access_token


def client(fake: FakeSalesforce, tokens: Tokens, *, timeout: float = 5.0,
           readings: list[tuple[int, int]] | None = None) -> tuple[SalesforceCrm, Refresher]:
    assert tokens.refresh_token
    refresher = Refresher(fake, tokens.refresh_token)
    seen = readings if readings is not None else []
    return SalesforceCrm(
        instance_url=tokens.instance_url, api_version="v62.0", access_token=tokens.access_token,
        refresh=refresher, on_usage=lambda used, limit: seen.append((used, limit)),
        timeout=timeout), refresher


def test_pkce_challenge_is_rfc7636_s256() -> None:
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_authorize_url_names_the_login_host_and_pkce() -> None:
    url = authorize_url("https://test.salesforce.com", client_id="cid",
                        redirect_uri="https://app.test/cb", state="st", verifier="v" * 50)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == (
        "https", "test.salesforce.com", "/services/oauth2/authorize")
    query = parse_qs(parsed.query)
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["api refresh_token"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [code_challenge("v" * 50)]


def test_code_exchange_gives_instance_identity_and_a_valid_signature(
        fake: FakeSalesforce) -> None:
    tokens = login(fake)
    assert tokens.instance_url == f"{fake.url}/inst"
    assert tokens.user_id == fake.user_id
    assert tokens.org_id == fake.org_id
    assert tokens.refresh_token
    assert signature_ok(fake.client_secret, tokens)
    assert not signature_ok("another-secret", tokens)


def test_code_exchange_with_the_wrong_verifier_is_refused(fake: FakeSalesforce) -> None:
    url = authorize_url(fake.url, client_id=fake.client_id, redirect_uri="https://app.test/cb",
                        state="s", verifier=new_verifier())
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    code = parse_qs(urlparse(location).query)["code"][0]
    with pytest.raises(CrmAuthError, match="invalid_grant"):
        exchange_code(requests.Session(), fake.url, client_id=fake.client_id,
                      client_secret=fake.client_secret, code=code,
                      redirect_uri="https://app.test/cb", verifier=new_verifier(), timeout=5)


def test_expired_access_token_is_refreshed_once_and_the_call_repeated(
        fake: FakeSalesforce) -> None:
    crm, refresher = client(fake, login(fake))
    fake.add_contact("pat@example.test")
    fake.expire_access_tokens()
    assert crm.find_person("pat@example.test") is not None
    assert refresher.count == 1
    assert fake.calls("POST", "/services/oauth2/token") == 2  # the code, then one refresh


def test_revoked_grant_raises_auth_error(fake: FakeSalesforce) -> None:
    crm, refresher = client(fake, login(fake))
    fake.revoke()
    with pytest.raises(CrmAuthError, match="invalid_grant"):
        crm.find_person("pat@example.test")
    assert refresher.count == 1


def test_find_person_prefers_the_contact_then_an_unconverted_lead(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake))
    lead = fake.add_lead("lee@example.test")
    fake.add_lead("old@example.test", converted=True)
    contact = fake.add_contact("o'brien@example.test")
    fake.add_lead("o'brien@example.test")
    assert crm.find_person("O'Brien@example.test") == contact
    assert crm.find_person("lee@example.test") == lead
    assert crm.find_person("old@example.test") is None


def test_create_update_and_errors_on_one_task(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake))
    who = fake.add_contact("pat@example.test")
    [made] = crm.create_tasks([{"Subject": "Call", "WhoId": who, "TaskSubtype": "Call",
                                "ActivityDate": "2026-11-25"}])
    assert made.error is None and made.id in fake.tasks
    [changed] = crm.update_tasks([{"Id": made.id, "Status": "Completed"}])
    assert changed.error is None
    assert fake.tasks[made.id]["Status"] == "Completed" and fake.tasks[made.id]["IsClosed"]
    [refused] = crm.update_tasks([{"Id": made.id, "TaskSubtype": "Email"}])
    assert isinstance(refused.error, CrmPermanentError)
    assert refused.error.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    fake.delete_task(made.id)
    [gone] = crm.update_tasks([{"Id": made.id, "Status": "Not Started"}])
    assert isinstance(gone.error, CrmNotFound)


def test_many_records_go_through_sobject_collections(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake))
    who = fake.add_contact("pat@example.test")
    records = [{"Subject": f"t{i}", "WhoId": who} for i in range(250)]
    records[3]["WhoId"] = "003000000000999AAA"  # refused alone; the others go in
    results = crm.create_tasks(records)
    assert fake.calls("POST", "/composite/sobjects") == 2  # 200 + 50
    assert fake.calls("POST", "/sobjects/Task") == 0
    assert sum(1 for r in results if r.error is None) == 249
    assert isinstance(results[3].error, CrmNotFound)
    assert [fake.tasks[r.id]["Subject"] for r in results[:3] if r.id] == ["t0", "t1", "t2"]


def test_upsert_by_external_id_is_idempotent(fake: FakeSalesforce) -> None:
    fake.key_field, fake.key_field_external = "Campaign_Sync_Key__c", True
    crm, _ = client(fake, login(fake))
    assert crm.key_fields("Campaign_Sync_Key__c") == KeyFields("upsert", "Campaign_Sync_Key__c")
    record = {"Campaign_Sync_Key__c": "as-task-1", "Subject": "Call"}
    [first] = crm.upsert_tasks("Campaign_Sync_Key__c", [record])
    [again] = crm.upsert_tasks("Campaign_Sync_Key__c", [dict(record, Subject="Call back")])
    assert (first.created, again.created) == (True, False)
    assert first.id == again.id and len(fake.tasks) == 1
    assert fake.tasks[first.id]["Subject"] == "Call back"
    found = crm.find_task_by_key(KeyFields("upsert", "Campaign_Sync_Key__c"), "as-task-1",
                                 owner_id=fake.user_id, subject="x",
                                 since=datetime(2020, 1, 1, tzinfo=UTC))
    assert found == first.id
    many = [{"Campaign_Sync_Key__c": f"as-task-{i}", "Subject": "s"} for i in range(1, 4)]
    results = crm.upsert_tasks("Campaign_Sync_Key__c", many)
    assert [r.created for r in results] == [False, True, True]
    assert len(fake.tasks) == 3


def test_key_field_modes_from_describe(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake))
    assert crm.key_fields("Campaign_Sync_Key__c") == KeyFields("description")
    fake.key_field = "Campaign_Sync_Key__c"
    assert crm.key_fields("campaign_sync_key__c") == KeyFields("field", "Campaign_Sync_Key__c")


def test_lookup_by_key_in_description_filters_on_the_client(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake))
    since = fake.clock() - timedelta(hours=1)
    [mine] = crm.create_tasks([{"Subject": "Call · Q4", "Description": "x\n\n"
                                + key_marker("as-task-7")}])
    crm.create_tasks([{"Subject": "Call · Q4", "Description": key_marker("as-task-8")}])
    keys = KeyFields("description")
    assert crm.find_task_by_key(keys, "as-task-7", owner_id=fake.user_id, subject="Call · Q4",
                                since=since) == mine.id
    assert crm.find_task_by_key(keys, "as-task-9", owner_id=fake.user_id, subject="Call · Q4",
                                since=since) is None


def test_query_follows_next_records_url(fake: FakeSalesforce) -> None:
    fake.page_size = 2
    crm, _ = client(fake, login(fake))
    crm.create_tasks([{"Subject": f"t{i}"} for i in range(5)])
    rows = crm.query("SELECT Id, Subject FROM Task ORDER BY Subject ASC")
    assert [r["Subject"] for r in rows] == ["t0", "t1", "t2", "t3", "t4"]
    assert fake.calls("GET", "/query/01g") == 2


def test_changed_tasks_include_deletions(fake: FakeSalesforce) -> None:
    clock = fake.clock
    assert isinstance(clock, FrozenClock)
    crm, _ = client(fake, login(fake))
    [a, b, c] = crm.create_tasks([{"Subject": "a"}, {"Subject": "b"}, {"Subject": "c"}])
    cutoff = clock.advance(minutes=10)
    assert a.id and b.id and c.id
    fake.close_task(a.id)
    clock.advance(minutes=1)
    fake.delete_task(b.id)
    changed = crm.changed_tasks(fake.user_id, cutoff)
    assert [(t.id, t.closed, t.deleted) for t in changed] == [(a.id, True, False),
                                                             (b.id, False, True)]
    assert changed[1].modstamp == cutoff + timedelta(minutes=1)


def test_sforce_limit_info_is_read_and_limit_exceeded_classified(fake: FakeSalesforce) -> None:
    readings: list[tuple[int, int]] = []
    crm, _ = client(fake, login(fake), readings=readings)
    fake.api_used, fake.api_limit = 98, 100
    crm.find_person("a@example.test")  # two queries: contact, then lead
    assert readings == [(99, 100), (100, 100)]
    with pytest.raises(CrmLimitError):
        crm.find_person("a@example.test")


def test_a_timed_out_create_is_ambiguous(fake: FakeSalesforce) -> None:
    crm, _ = client(fake, login(fake), timeout=0.3)
    fake.hold_creates = threading.Event()
    with pytest.raises(CrmTransientError) as caught:
        crm.create_tasks([{"Subject": "late"}])
    assert caught.value.ambiguous
    fake.hold_creates.set()
    assert len(fake.tasks) == 1  # it was created all the same


def test_soql_string_escapes_quotes_and_backslashes() -> None:
    assert soql_string("o'b\\x") == "'o\\'b\\\\x'"
    query = parse_soql(f"SELECT Id FROM Contact WHERE Email = {soql_string(chr(39))} LIMIT 1")
    assert query.where == [("Email", "=", "'")]
