"""The person page and the local mailbox pages through Flask's test client (both databases):
who sees what, the links to the person from the other pages, and the mailbox's messages."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.models import Person, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign
from tests.web.test_pages import sign_in_as


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(dev_mode=True)


def sent_to_bob(rep: Actor, runtime: Runtime, clock: FrozenClock) -> tuple[int, int]:
    cid = make_campaign(rep, [email_step(1, send_time="09:00"), email_step(3)])
    launch(rep, cid, [{"email": "bob@globex.test", "first_name": "Bob", "company": "Globex",
                       "fields": {"plan": "gold"}}])
    clock.advance(minutes=1)
    cycle(runtime)
    with runtime.sessions() as s:
        pid = s.scalar(select(Person.id).where(Person.email == "bob@globex.test"))
        sid = s.scalar(select(Send.id))
        assert pid is not None and sid is not None
        return pid, sid


def test_the_person_page_shows_fields_campaigns_and_the_thread(
        rep: Actor, runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
    pid, sid = sent_to_bob(rep, runtime, clock)
    sign_in_as(client, rep)
    html = client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'value="Globex"' in html and 'value="gold"' in html
    assert "Active in campaign &#39;c-" in html
    assert f'data-simulate="reply" data-send="{sid}"' in html  # DEV_MODE, a local mailbox
    assert "Hello Bob" in html  # the email as sent, in the thread
    assert "data-read-only" not in html
    # The campaign's start day in the one date style, not the API's ISO date.
    assert re.search(r'started <time datetime="\d{4}-\d{2}-\d{2}" '
                     r'title="\w{3}, \d{1,2} \w{3} \d{4}">\w{3}, \d{1,2} \w{3}', html)
    # Linked from the Command Center, the email and its task pages.
    people = client.get("/command?view=people").get_data(as_text=True)
    assert f'href="/people/{pid}"' in people
    emails = client.get("/command?view=emails&state=sent").get_data(as_text=True)
    assert f'href="/people/{pid}"' in emails
    assert f'href="/people/{pid}"' in client.get(f"/sends/{sid}").get_data(as_text=True)


def test_another_reps_person_is_not_found(rep: Actor, runtime: Runtime, client: FlaskClient,
                                          clock: FrozenClock) -> None:
    pid, _ = sent_to_bob(rep, runtime, clock)
    sign_in_as(client, make_actor(runtime, client, "bea@acme.test"))
    assert client.get(f"/people/{pid}").status_code == 404
    assert client.get("/people/999999").status_code == 404


def test_the_local_mailbox_lists_what_it_sent_and_received(
        rep: Actor, runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
    pid, sid = sent_to_bob(rep, runtime, clock)
    sign_in_as(client, rep)
    assert 'href="/mailbox"' in client.get("/mailboxes").get_data(as_text=True)
    answered = rep.post(f"/api/v1/people/{pid}/simulate", json={"kind": "ooo", "send_id": sid})
    assert answered.status_code == 200, answered.json
    html = client.get("/mailbox").get_data(as_text=True)
    assert "Hello Bob" in html and "Automatic reply: Hello Bob" in html
    messages = rep.get("/api/v1/mailbox/messages").json["messages"]
    received = next(m for m in messages if m["inbound"])
    page = client.get(f"/mailbox/{received['id']}").get_data(as_text=True)
    assert "auto-replied" in page and "out of the office" in page
    other = make_actor(runtime, client, "bea@acme.test")
    sign_in_as(client, other)
    assert client.get(f"/mailbox/{received['id']}").status_code == 404


def test_an_archived_campaign_is_not_offered_on_the_person_page(
        rep: Actor, runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
    # Adding people to an archived campaign is refused (409), so the page must not offer it.
    pid, _ = sent_to_bob(rep, runtime, clock)
    kept = make_campaign(rep, [email_step(1, send_time="10:00")])
    archived = make_campaign(rep, [email_step(1, send_time="11:00")])
    assert rep.post(f"/api/v1/campaigns/{archived}/archive").status_code == 200
    sign_in_as(client, rep)
    html = client.get(f"/people/{pid}").get_data(as_text=True)
    assert f'<option value="{kept}"' in html
    assert f'<option value="{archived}"' not in html


def test_the_person_page_shows_dates_and_states_as_the_other_pages_do(
        rep: Actor, runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="09:00"), email_step(3),
                              {"day": 4, "type": "call", "instructions": "Call"}])
    launch(rep, cid, [{"email": "bob@globex.test", "first_name": "Bob"}])
    clock.advance(minutes=1)
    cycle(runtime)
    with runtime.sessions() as s:
        pid, sid = s.scalar(select(Person.id)), s.scalar(select(Send.id))
    answered = rep.post(f"/api/v1/people/{pid}/simulate", json={"kind": "reply", "send_id": sid})
    assert answered.status_code == 200, answered.json
    sign_in_as(client, rep)
    html = client.get(f"/people/{pid}").get_data(as_text=True)
    # The start date in the one date style (a <time>, as the People tab shows it), not ISO.
    assert 'started <time datetime="' in html
    # Step states read as words: "not planned", not the enum value "not_planned".
    assert ">not planned</span>" in html and ">not_planned<" not in html
