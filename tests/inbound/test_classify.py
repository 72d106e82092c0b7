"""Classification of inbound mail against hand-written fixtures shaped like real ones."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from addin_server.inbound.classify import Kind, classify, message_ids, sender
from addin_server.inbound.return_dates import return_date

FIXTURES = Path(__file__).parents[1] / "fixtures" / "inbound"


def load(name: str) -> EmailMessage:
    msg = message_from_bytes((FIXTURES / name).read_bytes(), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(
    ("name", "kind", "failed", "original", "send_id"),
    [
        ("gmail_bounce.eml", Kind.BOUNCE, ("nobody@globex.test",), "<campaign-41.1@acme.test>",
         "41"),
        ("exchange_ndr.eml", Kind.BOUNCE, ("gone.person@fabrikam.test",),
         "<AM0PR01MB9999A1B2C3D4E5F6@AM0PR01MB9999.eurprd01.prod.exchangelabs.com>", "77"),
        ("postfix_bounce_plain.eml", Kind.BOUNCE, ("peter.gibbons@initech.test",), None, None),
        ("exim_bounce.eml", Kind.BOUNCE, ("gavin@hooli.test",), None, None),
    ],
)
def test_bounces_name_the_failed_recipient(
    name: str, kind: Kind, failed: tuple[str, ...], original: str | None, send_id: str | None
) -> None:
    result = classify(load(name))
    assert result.kind == kind
    assert result.failed_recipients == failed
    assert result.original_message_id == original
    assert result.original_send_id == send_id


def test_a_delay_notice_is_not_a_bounce() -> None:
    result = classify(load("gmail_delay.eml"))
    assert result.kind == Kind.AUTO_REPLY
    assert result.failed_recipients == ()
    assert "delayed" in result.why


@pytest.mark.parametrize(
    ("name", "back"),
    [
        ("exchange_ooo_en.eml", date(2026, 12, 2)),  # "back on Wednesday, 2 December"
        ("gmail_vacation_fr.eml", date(2026, 12, 3)),  # "de retour le jeudi 3 décembre"
        ("ooo_de_until.eml", date(2026, 12, 5)),  # "bis 04.12.2026": back the day after
        ("ooo_iso_es.eml", date(2026, 12, 7)),  # "de vuelta el 2026-12-07"
        ("ooo_no_date.eml", None),
    ],
)
def test_out_of_office_with_return_date(name: str, back: date | None) -> None:
    result = classify(load(name))
    assert result.kind == Kind.OUT_OF_OFFICE
    assert result.return_date == back


def test_ticket_acknowledgement_is_an_automatic_reply_not_out_of_office() -> None:
    result = classify(load("ticket_autoreply.eml"))
    assert result.kind == Kind.AUTO_REPLY
    assert result.return_date is None


@pytest.mark.parametrize("name", ["human_reply_gmail.eml", "human_reply_outlook.eml"])
def test_human_replies(name: str) -> None:
    # The Gmail one quotes "out of office" and "automatic reply" and says "back in the office
    # on 2 December" itself: still a person writing.
    assert classify(load(name)).kind == Kind.HUMAN


def test_sender_and_ids_are_normalised() -> None:
    msg = load("human_reply_gmail.eml")
    assert sender(msg) == "bob@globex.test"
    assert message_ids(str(msg["References"])) == ["<campaign-42.1@acme.test>"]


@pytest.mark.parametrize(
    ("text", "sent", "back"),
    [
        ("I will be back on 2 December.", date(2026, 11, 24), date(2026, 12, 2)),
        ("Back on December 2nd, 2026", date(2026, 11, 24), date(2026, 12, 2)),
        ("I'm away until Friday 4 December", date(2026, 11, 24), date(2026, 12, 5)),
        ("de retour le 3 décembre", date(2026, 11, 24), date(2026, 12, 3)),
        ("absente jusqu'au 2 décembre inclus", date(2026, 11, 24), date(2026, 12, 3)),
        ("ab dem 7. Dezember wieder erreichbar", date(2026, 11, 24), date(2026, 12, 7)),
        # Written in December about January: next year.
        ("back on 4 January", date(2026, 12, 20), date(2027, 1, 4)),
        ("returning 2026-12-01", date(2026, 11, 24), date(2026, 12, 1)),
        # From ... to ...: the later one.
        ("away from 1 December to 5 December", date(2026, 11, 24), date(2026, 12, 6)),
        ("on leave, no date given", date(2026, 11, 24), None),
        # A date in the past is no return date.
        ("back on 2020-01-01", date(2026, 11, 24), None),
    ],
)
def test_return_date_phrases(text: str, sent: date, back: date | None) -> None:
    assert return_date(text, sent) == back


def test_a_plain_message_without_signals_is_human() -> None:
    msg = EmailMessage()
    msg["From"] = "x@y.test"
    msg["Subject"] = "Absence of evidence"  # not at the start of an auto-reply subject form
    msg.set_content("Sounds good.")
    assert classify(msg).kind == Kind.HUMAN


@pytest.mark.parametrize(("name", "status", "diagnostic"), [
    ("gmail_bounce.eml", "5.1.1", "550-5.1.1 The email account that you tried to reach"),
    ("exchange_ndr.eml", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
    ("postfix_bounce_plain.eml", "5.1.1", "said: 550 5.1.1"),
])
def test_a_bounce_carries_its_status_code_and_diagnostic(
    name: str, status: str, diagnostic: str
) -> None:
    result = classify(load(name))
    assert (result.kind, result.status) == (Kind.BOUNCE, status)
    assert diagnostic in result.diagnostic
