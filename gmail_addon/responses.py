"""The envelopes around cards: what a trigger returns, what a button callback returns.

Triggers (homepage, contextual, compose, universal actions) answer a bare RenderActions
`{"action": {"navigations": [...]}}`; widget callbacks answer `{"renderActions": {...}}` (Gmail
rejects an unwrapped `action` there: "Cannot find field: action in message
google.apps.card.v1.SubmitFormResponse").
"""

from __future__ import annotations

from gmail_addon.widgets import Json


def show(card: Json) -> Json:
    """Trigger response: show this card."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def _wrapped(action: Json | None = None, host: Json | None = None) -> Json:
    inner: Json = {}
    if action is not None:
        inner["action"] = action
    if host is not None:
        inner["hostAppAction"] = host
    return {"renderActions": inner}


def _note(text: str) -> Json:
    return {"notification": {"text": text}}


def replace_card(card: Json, notification: str = "") -> Json:
    """Callback response: redraw the card in place, with an optional toast."""
    act: Json = {"navigations": [{"updateCard": card}]}
    if notification:
        act.update(_note(notification))
    return _wrapped(act)


def notify(text: str) -> Json:
    """Callback response: a toast only, the card stays as it is."""
    return _wrapped(_note(text))


def open_draft(draft_id: str, thread_id: str, notification: str = "") -> Json:
    """Open a draft we just created in Gmail's own compose window."""
    markup: Json = {"draftId": draft_id}
    if thread_id:
        markup["draftThreadId"] = thread_id
    host = {"gmailAction": {"openCreatedDraftActionMarkup": markup}}
    return _wrapped(_note(notification) if notification else None, host)


def update_draft(
    *, body_html: str, subject: str = "", to: tuple[str, ...] = (), notification: str = ""
) -> Json:
    """Compose-time: insert text at the cursor of the draft being written, and optionally set
    its subject and recipients."""
    markup: Json = {
        "updateBody": {
            "insertContents": [{"content": body_html, "contentType": "MUTABLE_HTML"}],
            # Gmail needs the type set explicitly.
            "type": "IN_PLACE_INSERT",
        }
    }
    if subject:
        markup["updateSubject"] = {"subject": subject}
    if to:
        markup["updateToRecipients"] = {"toRecipients": [{"email": a} for a in to]}
    host = {"gmailAction": {"updateDraftActionMarkup": markup}}
    return _wrapped(_note(notification) if notification else None, host)


def request_scopes(scopes: list[str]) -> Json:
    """Granular consent: ask Google to ask the rep for these scopes; it re-runs the action."""
    return {"requesting_google_scopes": {"scopes": list(scopes)}}
