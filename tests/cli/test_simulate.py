"""`addin-server simulate-inbound`: DEV_MODE only; a reply stops the person through the real
inbound path, and what cannot be answered is refused with why."""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import select

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus
from addin_server.models import Enrollment, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle, email_step, launch, make_campaign


def cli(settings: Settings, clock: FrozenClock, dev_mode: bool) -> tuple[Flask, Runtime]:
    rt = Runtime.from_settings(settings.with_(dev_mode=dev_mode,
                                              queue_name=f"t-{uuid.uuid4().hex[:8]}"),
                               clock=clock)
    app = create_app(runtime=rt)
    register_commands(app)
    return app, rt


def test_simulate_inbound_reply_stops_the_person(rep: Actor, settings: Settings,
                                                 runtime: Runtime, clock: FrozenClock) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="09:00"), email_step(3)])
    (eid,) = launch(rep, cid, [{"email": "bob@globex.test", "first_name": "Bob"}])
    clock.advance(minutes=1)
    cycle(runtime)
    with runtime.sessions() as s:
        send_id = s.scalar(select(Send.id).where(Send.enrollment_id == eid, Send.position == 0))
    app, rt = cli(settings, clock, dev_mode=False)
    refused = app.test_cli_runner().invoke(args=["simulate-inbound", "reply", str(send_id)])
    assert refused.exit_code != 0 and "only with DEV_MODE=1" in refused.output

    app, rt = cli(settings, clock, dev_mode=True)
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["simulate-inbound", "shout", str(send_id)])
    assert bad.exit_code != 0 and "reply" in bad.output
    missing = runner.invoke(args=["simulate-inbound", "reply", "999999"])
    assert missing.exit_code != 0 and "no send 999999" in missing.output
    done = runner.invoke(args=["simulate-inbound", "reply", str(send_id)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("human: stopped") and f"(enrollment {eid})" in done.output
    with rt.sessions() as s:
        enrollment = s.get(Enrollment, eid)
        assert enrollment is not None and enrollment.status == EnrollmentStatus.REPLIED
    rt.engine.dispose()
