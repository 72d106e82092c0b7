"""Caps, windows and send-time blocks through the real pipeline (dispatcher tick, RQ on real
Redis, the send job, the local mailbox), on both databases."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Enrollment, LocalMessage, Mailbox, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign, people, states


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def mailbox_id(runtime: Runtime, actor: Actor) -> int:
    with runtime.sessions() as s:
        found = s.scalar(select(Mailbox.id).where(Mailbox.rep_id == actor.rep_id))
        assert found is not None
        return found


def test_daily_cap_moves_the_overflow_to_tomorrow_with_a_reason(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    box = mailbox_id(runtime, rep)
    assert rep.patch(f"/api/v1/mailboxes/{box}/limits",
                     json={"daily_cap": 2, "min_gap_seconds": 0}).status_code == 200
    cid = make_campaign(rep, [email_step(1, send_time="09:30")])
    eids = launch(rep, cid, people(5))
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))  # 09:30 Paris: all five due
    forecast = rep.get(f"/api/v1/mailboxes/{box}/forecast").json
    assert [(d["date"], d["due"], d["expected"]) for d in forecast["days"][:4]] == [
        ("2026-11-24", 5, 2), ("2026-11-25", 0, 2), ("2026-11-26", 0, 1),
        ("2026-11-27", 0, 0)]
    cycle(runtime)
    assert states(runtime) == {"sent": 2, "scheduled": 3}
    # Oldest enrolments first; the others wait for Paris midnight, and say so.
    view = rep.get(f"/api/v1/enrollments/{eids[2]}").json["steps"][0]
    assert view["status"] == "scheduled"
    assert view["due_at"] == "2026-11-24T23:00:00Z"
    assert view["reason"] == ("daily cap of 2 emails from ann@acme.test reached for "
                              "Tue, 24 Nov 2026: expected Wed, 25 Nov 2026 at 00:00 CET")
    with runtime.sessions() as s:
        sent = sorted(s.scalars(select(Send.enrollment_id).where(
            Send.state == SendState.SENT)))
    assert sent == eids[:2]
    clock.set(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 4, "scheduled": 1}


def test_sending_window_across_the_spring_dst_change(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 3, 27, 15, 0, tzinfo=UTC))  # Fri 16:00 Paris (CET)
    cid = make_campaign(rep, [email_step(1, send_time="17:30"),
                              email_step(2, send_option="same_time_as_previous")],
                        sending_window={"days": ["mon", "tue", "wed", "thu", "fri"],
                                        "start": "09:00", "end": "17:00"})
    [eid] = launch(rep, cid, people(1))
    view = rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]
    # 17:30 is past the window: Monday 09:00 Paris, which is 07:00 UTC in summer time.
    assert view["due_at"] == "2026-03-30T07:00:00Z"
    assert view["reason"] == ("outside the sending window Mon-Fri 09:00-17:00 Europe/Paris: "
                              "expected Mon, 30 Mar 2026 at 09:00 CEST")
    clock.set(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"scheduled": 1}
    clock.set(datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    cycle(runtime)
    assert states(runtime) == {"sent": 1, "scheduled": 1}
    # Day 2 is one day after the first really went (Mon -> Tue) at the planned 17:30,
    # which is past the window: Wednesday 09:00 Paris.
    step2 = rep.get(f"/api/v1/enrollments/{eid}").json["steps"][1]
    assert step2["due_at"] == "2026-04-01T07:00:00Z"
    assert step2["reason"].startswith("outside the sending window")


def test_a_domain_blocked_after_launch_stops_the_send_at_send_time(
    runtime: Runtime, rep: Actor, clock: FrozenClock, client: object
) -> None:
    admin = make_actor(runtime, rep.client, "boss@acme.test", admin=True)
    cid = make_campaign(rep, [email_step(1, send_time="09:30")])
    [eid] = launch(rep, cid, [{"email": "ceo@rival.test"}])
    assert admin.post("/api/v1/blocked-domains", json={"domain": "rival.test"}).status_code == 201
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime)
    with runtime.sessions() as s:
        enrollment = s.get(Enrollment, eid)
        assert enrollment is not None and enrollment.status == EnrollmentStatus.STOPPED
        send = s.scalar(select(Send).where(Send.enrollment_id == eid))
        assert send is not None and send.state == SendState.CANCELLED
        assert send.reason == "blocked domain: not sent"
        assert s.scalar(select(LocalMessage.id)) is None  # nothing went out


def test_every_campaign_email_carries_one_click_unsubscribe(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="09:30")])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    clock.set(datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    cycle(runtime)
    with runtime.sessions() as s:
        raw = s.scalar(select(LocalMessage.raw).where(LocalMessage.sent_at.is_not(None)))
    assert raw is not None, (states(runtime), list(runtime.sessions().execute(
        select(Send.state, Send.reason, Send.due_at))))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    unsubscribe = str(msg["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://campaigns.example.test/u/")
    assert "<mailto:ann@acme.test?subject=unsubscribe%20" in unsubscribe
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # The one-click URL is live and needs no login.
    url = unsubscribe.split(">")[0].lstrip("<").replace("https://campaigns.example.test", "")
    assert rep.client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_cap_and_window_across_the_autumn_dst_change(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    """A cap of 1 a day, weekdays 09:00-18:00 Paris. Three people due Friday 23 October 2026
    at 17:00: one goes on Friday; Paris leaves summer time on Sunday 25th, so Monday 09:00 is
    08:00 UTC (not 07:00), and the third goes on Tuesday."""
    box = mailbox_id(runtime, rep)
    rep.patch(f"/api/v1/mailboxes/{box}/limits", json={"daily_cap": 1})
    clock.set(datetime(2026, 10, 23, 14, 0, tzinfo=UTC))  # Fri 16:00 Paris (CEST)
    cid = make_campaign(rep, [email_step(1, send_time="17:00")],
                        sending_window={"days": ["mon", "tue", "wed", "thu", "fri"],
                                        "start": "09:00", "end": "18:00"})
    eids = launch(rep, cid, people(3))

    def at(month: int, day: int, hour: int, minute: int = 0) -> list[int]:
        clock.set(datetime(2026, month, day, hour, minute, tzinfo=UTC))
        cycle(runtime, rounds=2)
        with runtime.sessions() as ss:
            return sorted(ss.scalars(select(Send.enrollment_id).where(
                Send.state == SendState.SENT)))

    assert at(10, 23, 15) == eids[:1]  # Fri 17:00 CEST
    assert at(10, 26, 7, 30) == eids[:1]  # Mon 08:30 CET: the window is not open yet
    assert at(10, 26, 8) == eids[:2]  # Mon 09:00 CET
    assert at(10, 26, 16) == eids[:2]  # the day's cap is used
    waiting = rep.get(f"/api/v1/enrollments/{eids[2]}").json["steps"][0]
    assert (waiting["due_at"], waiting["reason"]) == (
        "2026-10-27T08:00:00Z", "daily cap of 1 emails from ann@acme.test reached for Mon, 26 "
        "Oct 2026; then outside the sending window Mon-Fri 09:00-18:00 Europe/Paris: expected "
        "Tue, 27 Oct 2026 at 09:00 CET")
    assert at(10, 27, 8) == eids  # Tue 09:00 CET
    view = rep.get(f"/api/v1/enrollments/{eids[2]}").json["steps"][0]
    assert view["status"] == "sent"
