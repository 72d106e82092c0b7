"""p95 of the Gmail add-on's homepage card for a rep with 200 open tasks.

Each request is the full path Google takes: system ID token verified (RS256, certificates
cached), user ID token verified, rep looked up, one page of tasks read, card built, JSON out.
The floor is a bare POST route on the same app with the same body (Flask + test client + JSON
only), measured in the same run.

    python bench/gmail_homepage.py [--requests 300] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import jsonify

from addin_server import create_app
from addin_server.accounts import create_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.config import Settings
from addin_server.crypto import new_key
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import PersonInput
from addin_server.migrate import upgrade
from addin_server.runtime import Runtime
from tests.fakes.google import GoogleFake, make_signing_key, sign
from tests.fakes.server import serve
from tests.support.gmail_addon import (
    CLIENT_ID,
    SERVICE_ACCOUNT,
    event,
    system_claims,
    user_claims,
)

BASE = "https://campaigns.example.test"
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def seed(rt: Runtime, tasks: int) -> None:
    with rt.sessions.begin() as s:
        rep = create_rep(s, email="ann@acme.test", org_name="Acme", now=NOW,
                         timezone="Europe/Paris", name="Ann", local_mailbox=True)
        steps = [{"day": 1, "type": "email", "send_option": "manual_task",
                  "subject": "Hello {{first_name}}", "body_html": "<p>Hi</p>"}]
        calls = [{"day": 1, "type": "call", "instructions": "Ring"}]
        email_c = create_campaign(s, rep, parse_campaign(
            {"name": "Emails", "timezone": "Europe/Paris", "steps": steps},
            default_timezone="UTC"), NOW)
        call_c = create_campaign(s, rep, parse_campaign(
            {"name": "Calls", "timezone": "Europe/Paris", "steps": calls},
            default_timezone="UTC"), NOW)
        people = [PersonInput(email=f"p{i:04d}@client.test", first_name=f"P{i}",
                              company="Client Co") for i in range(tasks)]
        half = tasks // 2
        launch(s, rep, email_c, people[:half], LaunchOptions(), NOW)
        launch(s, rep, call_c, people[half:], LaunchOptions(), NOW)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    key = make_signing_key("k1")
    google = GoogleFake(signing_keys=[key])  # only its certificate endpoint is used here
    with tempfile.TemporaryDirectory() as tmp, serve(google.wsgi) as google_url:
        google.base_url = google_url
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        settings = Settings(database_url=url, instance_path=tmp, public_base_url=BASE,
                            secret_key="bench-secret", encryption_keys=(new_key(),),
                            gmail_addon_service_account=SERVICE_ACCOUNT,
                            gmail_addon_oauth_client_id=CLIENT_ID,
                            google_certs_url=google.certs_url)
        rt = Runtime.from_settings(settings, clock=lambda: NOW)
        upgrade(rt.engine)
        seed(rt, args.tasks)
        app = create_app(runtime=rt)

        @app.post("/bench/floor")
        def floor() -> object:
            return jsonify({"ok": True})

        client = app.test_client()
        body = event("homepage", user_token=sign(key, user_claims("ann@acme.test")))
        headers = {"Authorization": "Bearer " + sign(
            key, system_claims(BASE + "/gmail/homepage"))}

        def measure(path: str, extra: dict[str, str]) -> list[float]:
            for _ in range(10):  # warm up: certificate fetch, imports, statement caches
                client.post(path, json=body, headers=extra)
            out = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = client.post(path, json=body, headers=extra)
                out.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.data
            return out

        card = client.post("/gmail/homepage", json=body, headers=headers).json
        subtitle = card["action"]["navigations"][0]["pushCard"]["header"]["subtitle"]
        homepage = measure("/gmail/homepage", headers)
        bare = measure("/bench/floor", {})
        rt.engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"gmail homepage card ({subtitle}; {backend}; {args.requests} requests)")
    for name, samples in (("homepage", homepage), ("floor (bare Flask POST)", bare)):
        print(f"  {name:26s} p50 {statistics.median(samples):7.2f} ms   "
              f"p95 {percentile(samples, 0.95):7.2f} ms   max {max(samples):7.2f} ms")


if __name__ == "__main__":
    main()
