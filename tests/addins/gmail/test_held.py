"""A held email fixed from the Gmail add-on's message card (issue 15, point 6): the card says
why the step waits and offers "Fix held email": fill the missing field and send, send the
default text, or skip the step. Google-signed events, the real database and pipeline; every
card checked against Google's schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from addin_server.models import LocalMessage, Send
from addin_server.runtime import Runtime
from tests.addins.gmail import test_routes as routes
from tests.addins.gmail.test_routes import (
    Addon,
    _as_event_id,
    _incoming,
    buttons_for,
    card_of,
    launch,
    notification,
    texts,
)
from tests.conftest import Actor, FrozenClock
from tests.support.gmail_addon import GmailView, string_input
from tests.support.sending import cycle

# The add-on tests' fixtures: Google's keys and certificates, the fake Gmail, the add-on caller.
google_key, certs, fake_gmail, settings, addon = (
    routes.google_key, routes.certs, routes.fake_gmail, routes.settings, routes.addon)
JANE = {"email": "jane@client.test", "first_name": "Jane", "company": "Client Co"}




def held_card_for(addon: Addon, rep: Actor, runtime: Runtime, clock: FrozenClock,
                  fake: GmailView) -> tuple[int, dict[str, Any]]:
    """Jane's first email held for favourite_color; the card of a message from her, and the
    Fix card it opens."""
    cid = rep.post("/api/v1/campaigns", json={
        "name": "Colours", "timezone": "Europe/Paris", "settings": {"skip_weekends": False},
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:30",
                   "subject": "Colours", "body_html": "<p>I love {{favourite_color}} too.</p>"},
                  {"day": 3, "type": "email", "send_option": "same_time_as_previous",
                   "subject": "Again", "body_html": "<p>Following up</p>"}]}).json["id"]
    launch(rep, cid, JANE)
    clock.advance(hours=1)
    cycle(runtime, 1)
    with runtime.sessions() as s:
        (send,) = s.scalars(select(Send))
        assert send.state.value == "held"
    mid = _incoming(fake, "Jane <jane@client.test>")
    card = card_of(addon.post("contextual", "contextual",
                              gmail={"messageId": _as_event_id(mid)}))
    assert "missing merge fields: favourite_color" in texts(card)
    (fix,) = buttons_for(card, "Fix held email")
    assert fix["send_id"] == str(send.id) and fix["cand"] == "jane@client.test"
    return send.id, card_of(addon.post("held", "button_click", params=fix))


def test_fill_the_field_from_gmail_and_the_email_goes_once(
    addon: Addon, rep: Actor, runtime: Runtime, clock: FrozenClock,
    fake_gmail: tuple[GmailView, str],
) -> None:
    send_id, held = held_card_for(addon, rep, runtime, clock, fake_gmail[0])
    text = texts(held)
    assert "Held: no value for favourite_color" in text
    assert "<b>Or send it with the default text:</b><br>I love too." in text
    (save,) = buttons_for(held, "Save and send")
    refused = addon.post("release", "button_click", params=save,
                         form={"field_favourite_color": string_input(" ")})
    assert notification(refused) == (
        "Not sent: favourite_color needs a value for this email (or send it with the default "
        "text: use_defaults)")
    saved = addon.post("release", "button_click", params=save,
                       form={"field_favourite_color": string_input("teal")})
    assert notification(saved) == "Saved: the email goes now."
    assert "Fix held email" not in texts(card_of(saved))  # the message card, redrawn
    again = addon.post("release", "button_click", params=save,
                       form={"field_favourite_color": string_input("red")})
    assert notification(again) == "Nothing changed: it is scheduled, not held."
    cycle(runtime, 3)
    with runtime.sessions() as s:
        sent = list(s.scalars(select(LocalMessage).where(
            LocalMessage.send_id == str(send_id), LocalMessage.is_draft.is_(False))))
    assert len(sent) == 1 and "I love teal too." in sent[0].raw.decode()


def test_default_text_and_skip_from_gmail(
    addon: Addon, rep: Actor, runtime: Runtime, clock: FrozenClock,
    fake_gmail: tuple[GmailView, str],
) -> None:
    send_id, held = held_card_for(addon, rep, runtime, clock, fake_gmail[0])
    (skip,) = buttons_for(held, "Skip this step")
    skipped = addon.post("skip_send", "button_click", params=skip)
    assert notification(skipped) == "Step skipped: the next step follows."
    with runtime.sessions() as s:
        send = s.get(Send, send_id)
        assert send is not None and send.state.value == "cancelled"
    (defaults,) = buttons_for(held, "Send with the default text")  # the card, clicked late
    late = addon.post("release", "button_click", params=defaults)
    assert notification(late) == "Nothing changed: it is cancelled, not held."
