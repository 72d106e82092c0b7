"""Compose in the browser (issue 17 point 5): a task email written with a snippet, a Cc and an
attachment goes out through the real Gmail client library to the fake Gmail, and the recipient
gets exactly that; the rep's settings page edits the signature (with its preview) and snippets,
which survive a reload. Headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.models import Rep
from tests.fakes.fixtures import connected_gmail_row, fake_settings
from tests.fakes.google import GoogleFake
from tests.fakes.server import serve
from tests.flows.test_builder_roundtrip import api
from tests.support.browser import Live
from tests.support.replies_providers import provider_settings
from tests.support.sending import cycle

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

DEMO = "demo@example.com"


@pytest.fixture
def google_tls(fake_tls: tuple[str, str]) -> Iterator[GoogleFake]:
    fake = GoogleFake()
    with serve(fake.wsgi, tls=fake_tls) as url:
        fake.base_url = url
        yield fake
        fake.release.set()


@pytest.fixture
def settings(settings: Settings, google_tls: GoogleFake, fake_tls: tuple[str, str]) -> Settings:
    return fake_settings(provider_settings(settings), google=google_tls).with_(
        google_ca_bundle=fake_tls[0])


@pytest.fixture(autouse=True)
def _clean_queue(live: Live) -> Iterator[None]:
    yield
    Queue(live.runtime.settings.queue_name, connection=live.runtime.redis()).empty()


def _gmail_for_demo(live: Live, fake: GoogleFake) -> None:
    """The demo rep sends from a connected Gmail mailbox (newer than its local one)."""
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == DEMO))
        assert rep is not None
        row = connected_gmail_row(rt.settings, fake, DEMO, rep_id=rep.id)
        row.created_at = row.updated_at = rt.now()
        s.add(row)


def test_a_task_email_with_a_snippet_a_cc_and_an_attachment(
    page: Any, live: Live, google_tls: GoogleFake, tmp_path: Path
) -> None:
    _gmail_for_demo(live, google_tls)
    api(page, "PATCH", "/api/v1/me/signature", {"signature_html": "<p>-- Demo, Acme</p>"})
    api(page, "POST", "/api/v1/snippets", {
        "name": "Case study", "body_html": "<p>{{first_name}}, see how Initech did it.</p>"})
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Manual", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "manual_task",
                   "subject": "Idea for {{company}}", "body_html": "<p>Hi {{first_name}},</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch", {"people": [
        {"email": "ana@umbrella.test", "first_name": "Ana", "company": "Umbrella"}]})
    page.goto("/command")
    page.locator(".task-row", has_text="ana@umbrella.test").get_by_role("link",
                                                                     name="Open").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    body = page.locator("[data-body]")
    expect(body.locator(".signature")).to_contain_text("-- Demo, Acme")
    # The caret after the greeting, then the snippet goes there (above the signature).
    body.locator("p", has_text="Hi Ana,").click()
    page.keyboard.press("End")
    choice = page.get_by_label("Insert a snippet")
    expect(choice).to_be_enabled()
    choice.select_option(label="Case study")
    expect(body).to_contain_text("{{first_name}}, see how Initech did it.")
    page.get_by_role("button", name="Cc/Bcc").click()
    page.get_by_label("Cc", exact=True).fill("boss@umbrella.test")
    pdf = tmp_path / "Pricing.pdf"
    data = b"%PDF-1.4\n" + bytes(range(256)) * 40
    pdf.write_bytes(data)
    page.locator("[data-attach-input]").set_input_files(str(pdf))
    expect(page.locator("[data-attachments] li", has_text="Pricing.pdf")).to_contain_text("KB")
    expect(page.locator("[data-attachments] li")).not_to_contain_text("uploading")
    page.get_by_role("button", name="Send now").click()
    page.locator("[data-sent-note]", has_text="Sent.").wait_for()

    cycle(live.runtime, 2)
    (got,) = google_tls.recipient_view("ana@umbrella.test").messages
    assert got.subject == "Idea for Umbrella"
    assert got.header("Cc") == "boss@umbrella.test"
    html = got.html
    assert html.index("Hi Ana,") < html.index("Ana, see how Initech did it.") < html.index(
        "-- Demo, Acme")
    files = []
    for part in got.message.iter_attachments():
        assert isinstance(part, EmailMessage)
        files.append((part.get_filename(), part.get_content_type(),
                      part.get_payload(decode=True)))
    assert files == [("Pricing.pdf", "application/pdf", data)]
    (copy,) = google_tls.recipient_view("boss@umbrella.test").messages
    assert copy.message_id == got.message_id
    # The email's page shows what it carried.
    page.goto("/command?view=emails&state=sent")
    page.locator(".email-row, tr, li", has_text="ana@umbrella.test").get_by_role(
        "link", name="Open").first.click()
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    expect(page.locator("[data-cc]")).to_have_text("boss@umbrella.test")
    expect(page.locator("[data-send-attachments]")).to_contain_text("Pricing.pdf")


def test_a_snippet_never_lands_inside_the_signature(page: Any, live: Live) -> None:
    # Clicking in the editor's empty space below the text puts the caret at the end of the
    # signature; a snippet inserted then went into the signature, glued to its last word.
    api(page, "PATCH", "/api/v1/me/signature", {"signature_html": "<p>-- Demo, Acme</p>"})
    api(page, "POST", "/api/v1/snippets", {"name": "Calendar", "body_html": "Book a time."})
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Manual", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "manual_task",
                   "subject": "Idea", "body_html": "<p>Hi {{first_name}},</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch", {"people": [
        {"email": "ana@umbrella.test", "first_name": "Ana"}]})
    page.goto("/command")
    page.locator(".task-row", has_text="ana@umbrella.test").get_by_role("link",
                                                                     name="Open").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    body = page.locator("[data-body]")
    body.locator(".signature").click()
    page.keyboard.press("Control+End")
    choice = page.get_by_label("Insert a snippet")
    expect(choice).to_be_enabled()
    choice.select_option(label="Calendar")
    expect(body).to_contain_text("Book a time.")
    expect(body.locator(".signature")).to_have_text("-- Demo, Acme")
    text = body.inner_text()
    assert text.index("Hi Ana,") < text.index("Book a time.") < text.index("-- Demo, Acme")


def test_the_settings_page_edits_the_signature_and_the_snippets(page: Any, live: Live) -> None:
    page.get_by_role("link", name=re.compile("Demo")).first.click()
    page.wait_for_url(re.compile(r"/settings/me$"))
    editor = page.get_by_role("textbox", name="Signature")
    editor.click()
    editor.fill("Best, {{sender_name}} from Acme")
    expect(page.locator("[data-signature-preview]")).to_contain_text("Best, Demo")
    page.get_by_role("button", name="Save signature").click()
    page.locator(".toast", has_text="Signature saved").wait_for()
    page.reload()
    expect(page.get_by_role("textbox", name="Signature")).to_contain_text(
        "Best, {{sender_name}} from Acme")
    expect(page.locator("[data-signature-preview]")).to_contain_text("Best, Demo")

    page.get_by_label("Name").fill("Pricing")
    page.get_by_role("textbox", name="Text").fill("Our price is {{! the price }}")
    page.get_by_label("Share with my organisation").check()
    with page.expect_navigation():  # saved, the page reloads with the server's list
        page.get_by_role("button", name="Save snippet").click()
    row = page.locator("[data-snippet-list] li", has_text="Pricing")
    expect(row).to_contain_text("shared")
    row.get_by_role("button", name="Edit Pricing").click()
    page.get_by_label("Name").fill("Pricing 2027")
    with page.expect_navigation():
        page.get_by_role("button", name="Save snippet").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("[data-snippet-list] li", has_text="Pricing 2027")).to_contain_text(
        "Our price is")
    snippets = api(page, "GET", "/api/v1/snippets")["snippets"]
    assert [(s["name"], s["shared"]) for s in snippets] == [("Pricing 2027", True)]


def test_the_builder_sets_a_steps_cc_and_bcc(page: Any, live: Live) -> None:
    created = api(page, "POST", "/api/v1/campaigns", {
        "name": "Copies", "timezone": "UTC", "steps": [
            {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:00",
             "subject": "Hi", "body_html": "<p>Hello</p>"}]})
    page.goto(f"/campaigns/{created['id']}")
    page.get_by_label("Cc", exact=True).fill("boss@corp.test, not-an-address")
    page.get_by_label("Bcc", exact=True).fill("log@crm.test")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator('[data-field="steps[0].cc"]')).to_contain_text(
        "is not a valid email address")
    assert api(page, "GET", f"/api/v1/campaigns/{created['id']}")["steps"][0]["cc"] == []
    page.get_by_label("Cc", exact=True).fill("boss@corp.test; pa@corp.test")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    step = api(page, "GET", f"/api/v1/campaigns/{created['id']}")["steps"][0]
    assert step["cc"] == ["boss@corp.test", "pa@corp.test"] and step["bcc"] == ["log@crm.test"]
    page.reload()
    expect(page.get_by_label("Cc", exact=True)).to_have_value("boss@corp.test, pa@corp.test")
