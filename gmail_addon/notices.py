"""Cards that explain instead of listing: how to connect, and what went wrong."""

from __future__ import annotations

from gmail_addon import widgets as w
from gmail_addon.endpoints import Endpoints
from gmail_addon.widgets import Json, esc


def connect_card(e: Endpoints, *, email: str = "", reason: str = "") -> Json:
    """For a Google user we do not know, or a rep whose mailbox is not connected."""
    who = f"<b>{esc(email)}</b>" if email else "this Google account"
    if reason:
        text = f"Campaigns can't work from {who} yet: {esc(reason)}."
    else:
        text = f"{who} is not a rep of ours yet."
    # The web app's navigation says "Mailboxes"; the button opens that page directly.
    steps = (
        "1. Sign in to the web app with this address (ask your admin for an account).<br>"
        "2. On its <b>Mailboxes</b> page, click <b>Connect Gmail</b>.<br>"
        "3. Come back here and reopen the add-on."
    )
    return w.card(
        "Connect your account",
        [w.section([w.paragraph(text), w.paragraph(steps),
                    w.buttons(w.link_button("Open Mailboxes", e.mailboxes))])],
        name="connect",
    )


def error_card(title: str, message: str, e: Endpoints) -> Json:
    return w.card(title, [w.section([
        w.paragraph(esc(message)),
        w.buttons(w.action_button("Back to my tasks", w.action(e.url("page"), {"page": 0}))),
    ])], name="error")
