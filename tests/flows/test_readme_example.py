"""The README's "The API in four commands" runs as written on a fresh database (the demo's data
seeded as scripts/run does, so a hard-coded campaign id would be someone else's): the block is
read from the README, so the test breaks when the README drifts, and run by bash with the real
curl against the app served on 127.0.0.1. Only two things are substituted: the served app's
address for http://127.0.0.1:5000, and this interpreter for `.venv/bin/addin-server`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from addin_server.cli.demo import seed
from addin_server.config import Settings
from addin_server.models import Campaign, Enrollment, Rep
from tests.support.browser import Live

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### The API in four commands"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADING in text, "the README lost its curl example"
    match = re.search(r"```sh\n(.*?)```", text[text.index(HEADING):], re.S)
    assert match, "no sh block under the heading"
    return match.group(1)


def documents(out: str) -> list[Any]:
    """The JSON documents curl printed one after the other."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(out):
        if out[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(out, i)
        docs.append(doc)
    return docs


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_example_runs_as_written(live: Live, settings: Settings) -> None:
    with live.runtime.sessions.begin() as s:
        assert seed(s, live.runtime.settings, live.runtime.now())  # campaigns 1 and 2: the demo's
    block = readme_block()
    assert "http://127.0.0.1:5000" in block and ".venv/bin/addin-server" in block
    script = (block.replace("http://127.0.0.1:5000", live.url)
              .replace(".venv/bin/addin-server", f"{sys.executable} -m addin_server"))
    # A second shell beside scripts/run: DEV_MODE and no keys of its own (API tokens are
    # unkeyed hashes); the database named, since the test's is not in instance/.
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "ENCRYPTION_KEYS", "DEV_MODE")}
    env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               INSTANCE_PATH=settings.instance_path, PYTHONPATH=str(ROOT))
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    launched, found = documents(done.stdout)
    assert "errors" not in launched, launched
    assert sorted(e["email"] for e in launched["enrollments"]) == [
        "ada@example.org", "alan@example.org", "grace@example.net"]
    assert launched["skipped"] == [] and launched["invalid"] == []
    assert launched["columns"]["favourite_tool"] == "favourite_tool"
    assert found["total"] == 2
    assert {p["fields"]["favourite_tool"] for p in found["people"]} == {"punched cards",
                                                                       "the bombe"}
    with live.runtime.sessions() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "you@example.com"))
        assert rep is not None
        (campaign,) = s.scalars(select(Campaign).where(Campaign.rep_id == rep.id))
        assert campaign.name == "Q4 intro" and campaign.id > 2
        assert s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.campaign_id == campaign.id)) == 3
