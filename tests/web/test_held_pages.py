"""The pages around a held email (issue 15, points 6 and 3): the email's page offers the three
ways out with the missing field marked; the compose window of an email task whose person lacks
a field opens with `{{field}}` left to replace (it was a dead end) and sending it unreplaced is
refused naming the field; the Command Center's lists carry the filter for "select all N
matching"."""

from __future__ import annotations

import html as html_lib
import json
import re

from flask.testing import FlaskClient
from sqlalchemy import select, update

from addin_server.enums import SendState
from addin_server.models import Send, Task
from addin_server.runtime import Runtime
from tests.conftest import Actor
from tests.support.sending import email_step, launch, make_campaign, people
from tests.web.test_pages import settings, sign_in_as  # noqa: F401 (the DEV_MODE fixture)

BODY = "<p>Hi {{first_name}}, I love {{favourite_color}} too.</p>"


def test_a_held_emails_page_offers_its_ways_out(
    client: FlaskClient, rep: Actor, runtime: Runtime
) -> None:
    cid = make_campaign(rep, [email_step(1, body_html=BODY)])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    with runtime.sessions.begin() as s:
        s.execute(update(Send).values(state=SendState.HELD,
                                      reason="missing merge fields: favourite_color"))
        send_id = s.scalar(select(Send.id))
    sign_in_as(client, rep)
    page = client.get(f"/sends/{send_id}").get_data(as_text=True)
    assert "Held: no value for favourite_color" in page
    frames = [html_lib.unescape(f) for f in re.findall(r'srcdoc="([^"]*)"', page)]
    assert '<mark class="missing-field" title="missing merge field">favourite_color</mark>' in (
        frames[0])
    assert frames[1].endswith("<p>Hi Zoe, I love  too.</p>")  # as the default text sends it
    for control in ('data-fill="favourite_color"', "Save and send", "Send as shown",
                    "Skip this step"):
        assert control in page


def test_compose_opens_with_the_missing_field_left_to_replace(
    client: FlaskClient, rep: Actor, runtime: Runtime
) -> None:
    cid = make_campaign(rep, [email_step(1, send_option="manual_task", body_html=BODY)])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    with runtime.sessions() as s:
        task_id = s.scalar(select(Task.id))
    sign_in_as(client, rep)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "data-compose" in page and "data-missing" in page
    assert "<p>Hi Zoe, I love {{favourite_color}} too.</p>" in page
    refused = rep.post(f"/api/v1/tasks/{task_id}/send", json={
        "subject": "Hello Zoe", "body_html": "<p>Hi Zoe, I love {{favourite_color}} too.</p>"})
    assert refused.status_code == 422
    assert refused.json["errors"] == [{"field": "body_html",
                                       "message": "no value for: favourite_color"}]
    sent = rep.post(f"/api/v1/tasks/{task_id}/send", json={
        "subject": "Hello Zoe", "body_html": "<p>Hi Zoe, I love teal too.</p>"})
    assert sent.status_code == 201, sent.json


def test_the_lists_carry_their_filter_for_select_all_matching(
    client: FlaskClient, rep: Actor
) -> None:
    cid = make_campaign(rep, [email_step(1)])
    launch(rep, cid, people(150))
    other = make_campaign(rep, [email_step(1)])
    launch(rep, other, people(3, prefix="o"))
    sign_in_as(client, rep)
    page = client.get(f"/command?view=people&campaign={cid}&q=corp").get_data(as_text=True)
    assert "1–100 of 150" in page and "Select all 150 matching" in page
    (raw,) = re.findall(r"data-filter='([^']*)'", page)
    assert json.loads(html_lib.unescape(raw)) == {
        "view": "people", "q": "corp", "status": "live", "state": "scheduled",
        "campaign_id": cid}
    # The filter the page carries is the one the bulk action applies: all 150, not the page.
    done = rep.post("/api/v1/enrollments/bulk", json={
        "action": "pause", "filter": json.loads(html_lib.unescape(raw))})
    assert done.json["matched"] == 150
    emails = client.get(f"/command?view=emails&state=scheduled&campaign={other}").get_data(
        as_text=True)
    assert emails.count('data-enrollment="') == 3
    assert "Select all 3 matching emails' people" in emails
    # Not a campaign of the rep's: the filter is dropped, every campaign is shown.
    unknown = client.get("/command?view=people&campaign=999999").get_data(as_text=True)
    assert "1–100 of 153" in unknown
