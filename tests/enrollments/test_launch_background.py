"""Large launches go on in the background: 202 and a launch id, progress to poll, all or
nothing (real Redis and RQ's SimpleWorker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from rq import Queue, SimpleWorker

from addin_server.config import Settings
from addin_server.models import Enrollment, Person, Send
from addin_server.runtime import Runtime
from addin_server.workers.runtime import install_runtime
from tests.api.test_campaigns import create
from tests.conftest import Actor, FrozenClock, make_actor
from tests.enrollments.test_launch import count


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_people_per_launch=5)  # above 5 people: in the background


@pytest.fixture
def queue(runtime: Runtime) -> Iterator[Queue]:
    q = Queue(runtime.settings.queue_name, connection=runtime.redis())
    q.empty()
    install_runtime(runtime)
    yield q
    q.empty()


def csv(n: int) -> bytes:
    return ("email,first_name\n" + "".join(f"p{i}@corp.test,P{i}\n" for i in range(n))).encode()


def test_a_large_csv_launch_runs_in_the_background_with_progress(
    rep: Actor, runtime: Runtime, session: object, queue: Queue
) -> None:
    cid = create(rep).json["id"]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch?start_date=2026-11-25", data=csv(12),
                   content_type="text/csv")
    assert got.status_code == 202, got.json
    launch_id = got.json["launch_id"]
    assert got.headers["Location"] == f"/api/v1/launches/{launch_id}"
    waiting = rep.get(f"/api/v1/launches/{launch_id}").json
    assert (waiting["status"], waiting["total"], waiting["done"]) == ("queued", 12, 0)
    assert count(session, Person) == 0  # type: ignore[arg-type]
    SimpleWorker([queue], connection=runtime.redis()).work(burst=True)
    done = rep.get(f"/api/v1/launches/{launch_id}").json
    assert (done["status"], done["done"], done["enrollments"], done["skipped"]) == (
        "done", 12, 12, 0)
    assert count(session, Enrollment) == 12  # type: ignore[arg-type]
    assert count(session, Send) == 12  # type: ignore[arg-type]
    # Another organisation cannot see it.
    other = make_actor(runtime, rep.client, "kim@globex.test", org="Globex")
    assert other.get(f"/api/v1/launches/{launch_id}").status_code == 404


def test_a_background_launch_that_fails_leaves_nothing_and_says_why(
    rep: Actor, runtime: Runtime, session: object, queue: Queue, clock: FrozenClock
) -> None:
    cid = create(rep).json["id"]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch?start_date=2026-11-24", data=csv(12),
                   content_type="text/csv")
    assert got.status_code == 202
    clock.advance(days=1)  # the job runs the next day: its start date is now in the past
    SimpleWorker([queue], connection=runtime.redis()).work(burst=True)
    failed = rep.get(f"/api/v1/launches/{got.json['launch_id']}").json
    assert failed["status"] == "failed"
    assert "start_date" in failed["reason"]
    assert count(session, Person) == 0  # type: ignore[arg-type]
    assert count(session, Enrollment) == 0  # type: ignore[arg-type]


def test_a_large_json_list_is_still_refused(rep: Actor) -> None:
    cid = create(rep).json["id"]
    got = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": [{"email": f"p{i}@corp.test"} for i in range(6)]})
    assert got.status_code == 422
