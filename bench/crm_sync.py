"""Salesforce push benchmark: N new campaign tasks pushed to the fake Salesforce on 127.0.0.1.

Prints tasks/s and API requests per task beside a floor measured in the same run against the
same fake: the adapter alone creating the same N records through sObject Collections (no
database, no Contact lookup, no bookkeeping), and the ratio. The sync adds, per batch of 200,
one claim per row, one Contact query, the commit of the ids, and the settle.

    python bench/crm_sync.py [--tasks 2000] [--repeat 3]

SQLite in a temporary folder (the sync's SQL is the same on PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from addin_server import crypto
from addin_server.accounts import create_rep
from addin_server.config import Settings
from addin_server.crm import push
from addin_server.crm.connections import save_connection
from addin_server.crm.salesforce import SalesforceCrm, exchange_code, new_verifier
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import PersonInput
from addin_server.enums import StepType
from addin_server.migrate import upgrade
from addin_server.models import Campaign, Step
from addin_server.runtime import Runtime
from tests.fakes.salesforce import FakeSalesforce, FakeServer

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def login(fake: FakeSalesforce) -> tuple[str, str, str]:
    from urllib.parse import parse_qs, urlparse

    from addin_server.crm.salesforce import authorize_url

    verifier = new_verifier()
    url = authorize_url(fake.url, client_id=fake.client_id, redirect_uri="https://b.test/cb",
                        state="s", verifier=verifier)
    code = parse_qs(urlparse(requests.get(url, allow_redirects=False, timeout=5)
                             .headers["Location"]).query)["code"][0]
    tokens = exchange_code(requests.Session(), fake.url, client_id=fake.client_id,
                           client_secret=fake.client_secret, code=code,
                           redirect_uri="https://b.test/cb", verifier=verifier, timeout=10)
    assert tokens.refresh_token
    return tokens.access_token, tokens.refresh_token, tokens.instance_url


def floor(n: int) -> tuple[float, int]:
    """The adapter alone: N creates through sObject Collections."""
    with FakeServer(FakeSalesforce(clock=lambda: NOW)) as fake:
        access, _refresh, instance = login(fake)
        crm = SalesforceCrm(instance_url=instance, api_version="v62.0", access_token=access,
                            refresh=lambda: access)
        records = [{"Subject": f"t{i}", "Status": "Not Started"} for i in range(n)]
        before = fake.api_used
        started = time.perf_counter()
        for start in range(0, n, push.BATCH):
            crm.create_tasks(records[start:start + push.BATCH])
        return time.perf_counter() - started, fake.api_used - before


def measured(n: int, folder: Path) -> tuple[float, int, int]:
    """The sync: N tasks made by a launch, pushed with push_due."""
    with FakeServer(FakeSalesforce(clock=lambda: NOW)) as fake:
        settings = Settings(
            database_url=f"sqlite:///{folder / 'bench.sqlite3'}", instance_path=str(folder),
            secret_key="bench-secret",
            encryption_keys=(crypto.new_key(),), salesforce_client_id=fake.client_id,
            salesforce_client_secret=fake.client_secret, salesforce_login_url=fake.url)
        rt = Runtime.from_settings(settings, clock=lambda: NOW)
        upgrade(rt.engine)
        emails = [f"p{i}@corp.test" for i in range(n)]
        for email in emails:
            fake.add_contact(email)
        with rt.sessions.begin() as s:
            rep = create_rep(s, email="rep@bench.test", org_name="Bench", now=NOW)
            campaign = Campaign(org_id=rep.org_id, rep_id=rep.id, name="Bench",
                                timezone="Europe/Paris", steps=[
                                    Step(position=0, day=1, type=StepType.CALL)])
            s.add(campaign)
            s.flush()
            access, refresh, instance = login(fake)
            from addin_server.crm.salesforce import Tokens

            tokens = Tokens(access, refresh, instance, fake.identity_url, "0", "")
            conn = save_connection(s, rt, rep, tokens, fake.url, NOW)
            conn.key_mode = "description"
            launch(s, rep, campaign, [PersonInput(email=e) for e in emails], LaunchOptions(),
                   NOW)
            conn_id = conn.id
        before = fake.api_used
        started = time.perf_counter()
        report = push.push_due(rt, conn_id, rounds=n // push.BATCH + 2)
        elapsed = time.perf_counter() - started
        rt.engine.dispose()
        assert report.created == n and len(fake.tasks) == n, report
        return elapsed, fake.api_used - before, report.created


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.tasks
    sync_times, floor_times = [], []
    sync_calls = floor_calls = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, sync_calls, _created = measured(n, Path(tmp))
        sync_times.append(elapsed)
        elapsed, floor_calls = floor(n)
        floor_times.append(elapsed)
    s, f = statistics.median(sync_times), statistics.median(floor_times)
    print(f"push {n} new tasks (SQLite, median of {args.repeat})")
    print(f"  sync : {n / s:8.0f} tasks/s  {sync_calls:5d} API requests "
          f"({sync_calls / n:.3f} per task)")
    print(f"  floor: {n / f:8.0f} tasks/s  {floor_calls:5d} API requests "
          f"({floor_calls / n:.3f} per task)  adapter alone, composite creates")
    print(f"  ratio: sync takes {s / f:.2f}x the floor's time")


if __name__ == "__main__":
    main()
