"""Add-on endpoints about the open message (contextual trigger, add to a campaign) and the
draft being written (compose trigger, insert a template)."""

from __future__ import annotations

from email.utils import getaddresses

from addin_server.accounts import may_see_template, rep_today, visible_people
from addin_server.addins.gmail import gmail_api as gmail_addon_api
from addin_server.addins.gmail import views as gmail_views
from addin_server.addins.gmail.endpoint import addon_blueprint, addon_endpoint, endpoints
from addin_server.campaigns import templates
from addin_server.campaigns.rendering import merge_values
from addin_server.enrollments import launch as launches
from addin_server.enrollments.people import parse_person
from addin_server.models import Campaign, Person, Rep, Template
from addin_server.runtime import runtime
from addin_server.validation import Errors, ValidationFailed
from addin_server.web.common import db, now
from gmail_addon import message_card as cards
from gmail_addon import notices, responses
from gmail_addon.events import AddonEvent
from gmail_addon.widgets import Json

MAX_ADDRESSES = 20

bp = addon_blueprint("gmail_message", __name__)


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def _message_context(rep: Rep, event: AddonEvent) -> tuple[list[str], cards.Candidate | None]:
    """Addresses in the open message (except the rep's own) and whom to offer to add. Read
    from the message on the trigger; carried in the card's parameters on later clicks."""
    if event.param("view") == "message":
        carried = [a for a in event.param("people").split(",") if "@" in a][:MAX_ADDRESSES]
        address = event.param("cand")
        return carried, cards.Candidate(address, event.param("cand_name")) if address else None
    headers = gmail_addon_api.message_headers(
        runtime().settings.gmail_api_endpoint, user_token=event.user_oauth_token,
        access_token=event.access_token, message_id=event.message_id,
        names=["From", "To", "Cc"], ca_bundle=runtime().settings.google_ca_bundle)
    own = {rep.email}
    senders = [(n, a.lower()) for n, a in getaddresses([headers.get("from", "")]) if "@" in a]
    others = [(n, a.lower()) for n, a in getaddresses(
        [headers.get("to", ""), headers.get("cc", "")]) if "@" in a]
    emails: list[str] = []
    for _n, a in senders + others:
        if a not in own and a not in emails and "," not in a:
            emails.append(a)
    # The sender, unless the rep wrote this message: then the first person they wrote to.
    pick = next(((n, a) for n, a in senders + others if a not in own), None)
    cand = cards.Candidate(pick[1], pick[0]) if pick else None
    return emails[:MAX_ADDRESSES], cand


def _context(emails: list[str], cand: cards.Candidate | None) -> dict[str, str]:
    ctx = {"view": "message", "people": ",".join(emails)}
    if cand is not None:
        ctx.update(cand=cand.email, cand_name=cand.name)
    return ctx


def message_card(rep: Rep, event: AddonEvent, selected: int | None = None) -> Json:
    emails, cand = _message_context(rep, event)
    session = db()
    people = gmail_views.people_items(session, rep, emails, now())
    choices = gmail_views.campaign_choices(session, rep, cand.email if cand else "")
    return cards.message_card(
        people, candidate=cand, campaigns=choices,
        selected=selected, context=_context(emails, cand),
        today=rep_today(rep, now()), e=endpoints())


@addon_endpoint(bp, "contextual", trigger=True)
def contextual(rep: Rep, event: AddonEvent) -> Json:
    if not event.message_id:
        card = notices.error_card("No message", "Open an email to see its people here.",
                                  endpoints())
        return responses.show(card)
    try:
        return responses.show(message_card(rep, event))
    except gmail_addon_api.GmailCallFailed as exc:
        if exc.missing_scope:
            return responses.request_scopes([gmail_addon_api.METADATA_SCOPE])
        return responses.show(notices.error_card("Gmail error", str(exc), endpoints()))


@addon_endpoint(bp, "campaign_form", trigger=False)
def campaign_form(rep: Rep, event: AddonEvent) -> Json:
    value = event.form_value("campaign_id")
    return responses.replace_card(message_card(rep, event, int(value) if value.isdigit()
                                               else None))


def _campaign(rep: Rep, value: str) -> Campaign | None:
    if not value.isdigit():
        return None
    return next((c for c in gmail_views.campaigns_for_rep(db(), rep) if c.id == int(value)),
                None)


@addon_endpoint(bp, "add_person", trigger=False)
def add_person(rep: Rep, event: AddonEvent) -> Json:
    campaign = _campaign(rep, event.form_value("campaign_id"))
    if campaign is None:
        return responses.notify("Choose one of your campaigns first.")
    first, last = _split_name(event.param("cand_name"))
    errors = Errors()
    person = parse_person({"email": event.param("cand"), "first_name": first,
                                    "last_name": last}, "person", errors)
    if person is None:
        return responses.notify("This address cannot be added: "
                                + "; ".join(e.message for e in errors.items))
    options = launches.LaunchOptions(first_send_at=event.datetimes.get("send_at"))
    try:
        result = launches.launch(db(), rep, campaign, [person], options, now())
    except ValidationFailed as exc:
        return responses.notify("Not added: " + "; ".join(e.message for e in exc.errors))
    db().flush()
    if result.skipped:
        text = f"Not added to {campaign.name}: {result.skipped[0][1]}."
    else:
        text = f"Added {person.email} to {campaign.name}."
    return responses.replace_card(message_card(rep, event, campaign.id), text)


# --- compose ------------------------------------------------------------------------------------


@addon_endpoint(bp, "compose", trigger=True)
def compose(rep: Rep, event: AddonEvent) -> Json:
    recipient = event.to_recipients[0] if event.to_recipients else ""
    choices = gmail_views.template_choices(db(), rep)
    return responses.show(cards.compose_card(choices, recipient=recipient, e=endpoints()))


def _person_for(rep: Rep, address: str) -> Person:
    person = None
    if address:
        person = db().query(Person).filter(visible_people(rep),
                                           Person.email == address.lower()).one_or_none()
    # Someone new: fill in what the address tells us; unknown names fall back to defaults.
    return person or Person(org_id=rep.org_id, email=address or "", fields={})


@addon_endpoint(bp, "insert_template", trigger=False)
def insert_template(rep: Rep, event: AddonEvent) -> Json:
    template_id = event.int_param("template_id")
    template = db().get(Template, template_id) if template_id is not None else None
    if template is None or not may_see_template(rep, template):
        return responses.notify("That template was not found.")
    recipient = event.to_recipients[0] if event.to_recipients else event.param("to")
    s = runtime().settings
    values = merge_values(_person_for(rep, recipient), rep, base_url=s.public_base_url,
                          secret_key=s.secret_key)
    try:
        subject = templates.render(template.subject, values, html=False, keep_prompts=True)
        body = templates.render(template.body_html, values, html=True, keep_prompts=True)
    except templates.MissingFields as exc:
        return responses.notify("Fill these fields for this person first: "
                                + ", ".join(exc.names))
    return responses.update_draft(body_html=body, subject=subject,
                                  notification=f"Inserted {template.name}.")
