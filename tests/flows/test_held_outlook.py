"""A held email fixed from the Outlook pane (issue 15, point 6): the sender's campaign says
why the step waits, and "Fix this email" offers the missing field, the default text and a skip;
the fixed email then goes once through the pipeline. Real pane, real API, the Office.js
stand-in, headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from addin_server.models import LocalMessage, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.flows import test_outlook_taskpane as pane
from tests.flows.test_outlook_taskpane import campaign, email_step, launch, open_pane
from tests.support.sending import cycle

# The pane's fixtures: its app on 127.0.0.1 in development mode, and the rep Ann.
ann, server, settings = pane.ann, pane.server, pane.settings

pytestmark = pytest.mark.browser

BODY = "<p>Hi {{first_name}}, I love {{favourite_color}} too.</p>"


def held_for(runtime: Runtime, ann: Actor, clock: FrozenClock, who: dict[str, str]) -> int:
    cid = campaign(ann, [email_step(1, "fixed_time", send_time="09:30", body_html=BODY),
                         email_step(3, "same_time_as_previous")], "Colours")
    launch(ann, cid, who)
    clock.advance(hours=1)
    cycle(runtime, 1)
    with runtime.sessions() as s:
        (send,) = s.scalars(select(Send))
        assert send.state.value == "held"
        return send.id


def test_fix_a_held_email_from_the_pane_and_it_goes_once(
    browser: Any, server: str, ann: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    send_id = held_for(runtime, ann, clock, {"email": "dana@client.test", "first_name": "Dana",
                                                   "company": "Client Co"})
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "fromName": "Dana Smith"})
    status = page.locator("#sender-status")
    status.locator("li", has_text="missing merge fields: favourite_color").wait_for()
    status.get_by_role("button", name="Fix this email").click()
    status.locator(".default-text", has_text="Default text: Hi Dana, I love too.").wait_for()
    status.get_by_role("button", name="Save and send").click()  # empty: refused, named
    status.locator(".task-msg", has_text="needs a value").wait_for()
    status.get_by_label("favourite_color").fill("teal")
    status.get_by_role("button", name="Save and send").click()
    page.locator("#notice", has_text="Saved: the email goes now.").wait_for()
    status.locator("li", has_text="Colours").wait_for()
    assert status.get_by_role("button", name="Fix this email").count() == 0
    cycle(runtime, 3)
    with runtime.sessions() as s:
        sent = list(s.scalars(select(LocalMessage).where(LocalMessage.send_id == str(send_id),
                                                         LocalMessage.is_draft.is_(False))))
    assert len(sent) == 1 and "I love teal too." in sent[0].raw.decode()
    page.close()


def test_skip_a_held_email_from_the_pane(
    browser: Any, server: str, ann: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    send_id = held_for(runtime, ann, clock, {"email": "eli@client.test", "first_name": "Eli",
                                                   "company": "Client Co"})
    page = open_pane(browser, server, {"mode": "read", "from": "eli@client.test"})
    status = page.locator("#sender-status")
    status.get_by_role("button", name="Fix this email").click()
    status.get_by_role("button", name="Skip this step").click()
    page.locator("#notice", has_text="Step skipped").wait_for()
    status.locator("li", has_text="Step 2 (email)").wait_for()
    with runtime.sessions() as s:
        send = s.get(Send, send_id)
        assert send is not None and send.state.value == "cancelled"
    page.close()
