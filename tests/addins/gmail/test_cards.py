"""The add-on's pure parts: event parsing, id forms, card builders within Google's limits, and
the certificate cache."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from google.auth import transport

from addin_server.addins.gmail.tokens import CachingRequest, GoogleTokenVerifier, InvalidToken
from gmail_addon import responses
from gmail_addon import widgets as w
from gmail_addon.endpoints import Endpoints
from gmail_addon.events import normalise_id, parse_event
from gmail_addon.message_card import (
    CampaignChoice,
    Candidate,
    EnrollmentItem,
    PersonItem,
    StepLine,
    TemplateChoice,
    compose_card,
    message_card,
    step_text,
)
from gmail_addon.notices import connect_card, error_card
from gmail_addon.tasks_card import PAGE_SIZE, TaskItem, homepage_card
from tests.fakes.google import make_signing_key, sign
from tests.support import gmail_schema
from tests.support.gmail_addon import SERVICE_ACCOUNT, event, system_claims, user_claims

E = Endpoints("https://campaigns.example.test")
TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(("raw", "expected"), [
    # the documentation's example ids
    ("msg-f:1234567", "12d687"),
    ("thread-f:2345678", "23cace"),
    ("18CF062231220B4E", "18cf062231220b4e"),
    ("msg-f:12x", ""), ("../etc", ""), (None, ""), (12, ""),
])
def test_gmail_ids_normalise_to_hex(raw: Any, expected: str) -> None:
    assert normalise_id(raw) == expected


def test_every_sample_event_matches_googles_event_schema_and_parses() -> None:
    for name in ("homepage", "contextual", "compose", "button_click"):
        gmail_schema.validate_event(event(name))
    ctx = parse_event(event("contextual"))
    assert (ctx.message_id, ctx.access_token) == ("18cf062231220b4e", "sample-per-message-token")
    assert ctx.time_zone == "Europe/Paris"
    compose = parse_event(event("compose"))
    assert compose.to_recipients == ("jane@client.test",)
    assert compose.authorized_scopes is None  # not sent: we do not assume anything
    assert (compose.locale, compose.time_zone) == ("", "")
    click = parse_event(event("button_click", form={
        "when": {"dateTimeInput": {"msSinceEpoch": "1764000000000"}},
        "campaign_id": {"stringInputs": {"value": ["7"]}}}))
    assert click.int_param("task_id") == 1
    assert click.form_value("campaign_id") == "7"
    assert click.datetimes["when"] == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)


def test_garbage_events_parse_to_empty_values() -> None:
    for junk in (None, [], "x", {"commonEventObject": "x", "gmail": [1]},
                 {"commonEventObject": {"parameters": {"a": 1, "task_id": "9" * 40}}}):
        ev = parse_event(junk)
        assert ev.int_param("task_id") is None
        assert ev.message_id == "" and ev.user_id_token == ""


def task(i: int, kind: str = "email", due: date = TODAY, **kw: Any) -> TaskItem:
    return TaskItem(id=i, type=kind, title=f"Task {i}", due=due, person_name=kw.get("name", ""),
                    person_email=f"p{i}@x.test", company="", campaign="C")


def test_homepage_card_escapes_names_and_stays_under_the_limit() -> None:
    items = [task(1, name="<script>Eve</script>")] + [task(i) for i in range(2, PAGE_SIZE + 1)]
    card = homepage_card(items, total=500, page=3, today=TODAY, e=E)
    gmail_schema.validate(card, "Card", E.all())
    text = json.dumps(card)
    assert "<script>" not in text and "&lt;script&gt;Eve&lt;/script&gt;" in text
    assert w.widget_count(card) <= 2 * PAGE_SIZE + 1
    assert card["header"]["subtitle"] == "500 open tasks · page 4 of 25"


def _person(i: int, enrollments: int, tasks: int) -> PersonItem:
    steps = tuple(StepLine(k, k + 1, "email", "planned", "waiting") for k in range(6))
    return PersonItem(
        email=f"p{i}@x.test", name=f"P {i}", company="Co",
        enrollments=tuple(EnrollmentItem(100 * i + k, f"C{k}", "active", steps)
                          for k in range(enrollments)),
        tasks=tuple(task(1000 * i + k) for k in range(tasks)))


def test_message_card_never_passes_100_widgets_and_says_there_is_more() -> None:
    people = [_person(i, enrollments=5, tasks=10) for i in range(5)]
    card = message_card(people, candidate=Candidate("p0@x.test", "P 0"),
                        campaigns=[CampaignChoice(1, "C", "required")], selected=None,
                        context={"view": "message"}, today=TODAY, e=E)
    gmail_schema.validate(card, "Card", E.all())
    assert w.widget_count(card) <= 100
    assert card["sections"][-2]["widgets"][-1] == w.paragraph("More in the web app.")
    assert card["sections"][-1]["header"] == "Add to a campaign"  # the form always fits


def test_small_cards_are_valid() -> None:
    cards = [
        connect_card(E, email="a@b.test"),
        connect_card(E, email="a@b.test", reason="no mailbox is connected"),
        error_card("Oops", "Gmail <failed>", E),
        compose_card([TemplateChoice(1, "Intro", "Hello")], recipient="a@b.test", e=E),
        compose_card([], recipient="", e=E),
        message_card([], candidate=Candidate("a@b.test", ""), campaigns=[], selected=None,
                     context={}, today=TODAY, e=E),
        homepage_card([], total=0, page=0, today=TODAY, e=E),
    ]
    for card in cards:
        gmail_schema.validate(card, "Card", E.all())
        gmail_schema.validate(responses.show(card), "TriggerResponse", E.all())
        gmail_schema.validate(responses.replace_card(card, "ok"), "CallbackResponse", E.all())


def test_the_envelope_check_catches_wrong_shapes() -> None:
    card = connect_card(E)
    with pytest.raises(AssertionError):  # a callback must be wrapped in renderActions
        gmail_schema.validate({"action": {"navigations": [{"updateCard": card}]}},
                              "CallbackResponse")
    with pytest.raises(AssertionError):  # the field name Gmail ignores
        gmail_schema.validate({"renderActions": {"hostAppAction": {"gmailAction": {
            "openCreatedDraftAction": {"draftId": "r1"}}}}}, "CallbackResponse")
    with pytest.raises(AssertionError):  # thread-f: ids are not accepted by Gmail
        gmail_schema.validate(responses.open_draft("r1", "thread-f:123"), "CallbackResponse")
    with pytest.raises(AssertionError):  # two navigations in one item
        gmail_schema.validate({"action": {"navigations": [{"pushCard": card, "pop": True}]}},
                              "TriggerResponse")
    bad = w.card("x", [w.section([w.buttons(w.action_button(
        "Go", {"function": "https://evil.test/x"}))])])
    with pytest.raises(AssertionError, match="unknown"):
        gmail_schema.validate(responses.show(bad), "TriggerResponse", E.all())


class CountingTransport(transport.Request):
    def __init__(self, body: str, max_age: int | None) -> None:
        self.body = body
        self.max_age = max_age
        self.calls = 0

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> transport.Response:
        self.calls += 1
        outer = self

        class Resp(transport.Response):
            status = 200
            headers = ({"Cache-Control": f"public, max-age={outer.max_age}"}
                       if outer.max_age is not None else {})
            data = outer.body.encode()

        return Resp()


def test_certificates_are_cached_for_their_max_age() -> None:
    key = make_signing_key("k1")
    inner = CountingTransport(json.dumps({"k1": key.cert_pem}), max_age=600)
    clock = [1000.0]
    cached = CachingRequest(inner, timer=lambda: clock[0])
    verifier = GoogleTokenVerifier("https://certs.test/", cached)
    url = "https://campaigns.example.test/gmail/homepage"
    for _ in range(5):
        verifier.verify_system_token(sign(key, system_claims(url)), audience=url,
                                     service_account=SERVICE_ACCOUNT)
    assert inner.calls == 1
    clock[0] += 601
    verifier.verify_user_token(sign(key, user_claims("a@b.test")),
                               client_id=user_claims("x")["aud"])
    assert inner.calls == 2


def test_user_token_needs_a_verified_email() -> None:
    key = make_signing_key("k1")
    verifier = GoogleTokenVerifier("https://certs.test/", CachingRequest(
        CountingTransport(json.dumps({"k1": key.cert_pem}), max_age=None)))
    client_id = user_claims("x")["aud"]
    user = verifier.verify_user_token(sign(key, user_claims("Ann@Acme.test")),
                                      client_id=client_id)
    assert (user.email, user.sub) == ("ann@acme.test", "user-sub-1")
    with pytest.raises(InvalidToken):
        verifier.verify_user_token(sign(key, user_claims("a@b.test", email_verified=False)),
                                   client_id=client_id)
    with pytest.raises(InvalidToken):
        verifier.verify_user_token("", client_id=client_id)
    with pytest.raises(InvalidToken):  # not configured: nobody gets in
        verifier.verify_user_token(sign(key, user_claims("a@b.test")), client_id="")


@pytest.mark.parametrize("raw", ["2147483648", "99999999999999999", "0", "١٢", "-3", "1.5"])
def test_id_parameters_out_of_range_name_nothing(raw: str) -> None:
    # 2^31 and up overflowed PostgreSQL's INTEGER in the query (a 500) before.
    ev = parse_event({"commonEventObject": {"parameters": {"task_id": raw}}})
    assert ev.int_param("task_id") is None


@pytest.mark.parametrize(("status", "reason", "shown"), [
    # The state's word is said once: "sent: sent Tue ..." was the card's old stammer.
    ("sent", "sent Tue, 24 Nov 2026 at 09:30 CET",
     "✓ 1. Day 1 email · sent Tue, 24 Nov 2026 at 09:30 CET"),
    ("planned", "planned for Wed, 25 Nov 2026 at 09:30 CET",
     "○ 1. Day 1 email · planned for Wed, 25 Nov 2026 at 09:30 CET"),
    ("cancelled", "cancelled", "× 1. Day 1 email · cancelled"),
    ("not_planned", "stopped", "· 1. Day 1 email · not planned: stopped"),
    ("held", "missing merge fields: title", "! 1. Day 1 email · held: missing merge fields: title"),
    ("completed", "", "✓ 1. Day 1 email · completed"),
])
def test_a_step_line_says_each_word_once(status: str, reason: str, shown: str) -> None:
    assert step_text(StepLine(0, 1, "email", status, reason)) == shown
