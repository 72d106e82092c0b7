"""The contextual card (a message is open): the people in it who are ours, each campaign they
are in with every step's state and why a pending one has not gone out, their open tasks, and a
form to add the sender to a campaign. Also the compose-time template picker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gmail_addon import widgets as w
from gmail_addon.endpoints import Endpoints
from gmail_addon.tasks_card import TaskItem, task_widgets
from gmail_addon.widgets import Json, esc

MAX_PEOPLE = 5


@dataclass(frozen=True)
class StepLine:
    position: int
    day: int
    type: str
    status: str
    reason: str
    send_id: int | None = None


@dataclass(frozen=True)
class EnrollmentItem:
    id: int
    campaign: str
    status: str  # active | paused | finished | stopped | replied | ...
    steps: tuple[StepLine, ...]


@dataclass(frozen=True)
class PersonItem:
    email: str
    name: str
    company: str
    enrollments: tuple[EnrollmentItem, ...]
    tasks: tuple[TaskItem, ...]


@dataclass(frozen=True)
class CampaignChoice:
    id: int
    name: str
    send_time: str  # "required" (choose_at_launch), "optional", or "none"


@dataclass(frozen=True)
class Candidate:
    """The address the rep may add to a campaign (the sender, or whom the rep wrote to)."""

    email: str
    name: str


_MARK = {"sent": "✓", "completed": "✓", "skipped": "–", "cancelled": "×", "failed": "!",
         "held": "!", "not_planned": "·"}


def step_text(s: StepLine) -> str:
    """`✓ 1. Day 1 email · sent Tue, 24 Nov ...`: the state, then why, each word once (a
    reason that starts with the state, "sent ..." or "planned for ...", stands for both)."""
    mark = _MARK.get(s.status, "○")
    status = s.status.replace("_", " ")
    if not s.reason or s.reason == status:
        state = esc(status)
    elif s.reason.startswith(status):
        state = esc(s.reason)
    else:
        state = f"{esc(status)}: {esc(s.reason)}"
    return f"{mark} {s.position + 1}. Day {s.day} {esc(s.type)} · {state}"


def enrollment_widgets(en: EnrollmentItem, e: Endpoints, context: dict[str, str]) -> list[Json]:
    lines = "<br>".join(step_text(s) for s in en.steps)
    text = f"<b>{esc(en.campaign)}</b> · {esc(en.status)}<br>{lines}"
    out = [w.paragraph(text)]
    ids = {"enrollment_id": str(en.id), **context}
    acts = []
    if en.status == "active":
        acts.append(w.action_button("Pause", w.action(e.url("pause"), ids)))
    if en.status == "paused":
        acts.append(w.action_button("Resume", w.action(e.url("resume"), ids)))
    if en.status in ("active", "paused"):
        acts.append(w.action_button("Stop", w.action(e.url("stop"), ids)))
    held = next((s for s in en.steps if s.status == "held" and s.send_id), None)
    if held is not None:
        acts.append(w.action_button("Fix held email", w.action(
            e.url("held"), {"send_id": str(held.send_id), **context})))
    if acts:
        out.append(w.buttons(*acts))
    return out


@dataclass(frozen=True)
class HeldEmail:
    """A held automatic email, for the card that fixes it."""

    send_id: int
    person: str
    campaign: str
    position: int
    missing: tuple[str, ...]
    default_text: str  # the email's text as "send with the default text" sends it
    problem: str = ""  # a step no field value fixes (malformed, prompts)


def held_card(h: HeldEmail, e: Endpoints, context: dict[str, str]) -> Json:
    """Held for fields without a value: fill them and send, send the default text, or skip
    the step; each button comes back with `context` to redraw the message's card."""
    ids = {"send_id": str(h.send_id), **context}
    head = w.decorated(f"Step {h.position + 1} to {esc(h.person)}", top=esc(h.campaign),
                       bottom="Held: no value for " + esc(", ".join(h.missing)))
    widgets: list[Json] = [head]
    if h.problem:
        widgets.append(w.paragraph(esc(h.problem)))
    else:
        widgets += [w.text_input(f"field_{name}", name, hint="Saved on the person")
                    for name in h.missing]
        widgets.append(w.buttons(w.action_button(
            "Save and send", w.action(e.url("release"), {**ids, "mode": "fields"}),
            filled=True)))
        widgets.append(w.paragraph("<b>Or send it with the default text:</b><br>"
                                   + esc(h.default_text)))
        widgets.append(w.buttons(w.action_button(
            "Send with the default text", w.action(e.url("release"), {**ids, "mode": "defaults"}))))
    widgets.append(w.buttons(
        w.action_button("Skip this step", w.action(e.url("skip_send"), ids)),
        w.link_button("Open in the web app", f"{e.web_app}sends/{h.send_id}")))
    return w.card("Held email", [w.section(widgets)], name="held")


def person_section(p: PersonItem, e: Endpoints, today: date, context: dict[str, str]) -> Json:
    who = esc(p.name or p.email) + (f" &lt;{esc(p.email)}&gt;" if p.name else "")
    head = w.decorated(who, top="In your campaigns", bottom=esc(p.company))
    widgets = [head]
    for en in p.enrollments:
        widgets.extend(enrollment_widgets(en, e, context))
    for t in p.tasks:
        widgets.extend(task_widgets(t, e, today, context))
    if not p.enrollments:
        widgets.append(w.paragraph("Not in any campaign yet."))
    return w.section(widgets, esc(p.name or p.email))


def add_section(
    cand: Candidate,
    campaigns: Sequence[CampaignChoice],
    selected: int | None,
    e: Endpoints,
    context: dict[str, str],
) -> Json:
    if not campaigns:
        return w.section([w.paragraph(
            f"{esc(cand.name or cand.email)} is already in every campaign of yours (or you have "
            "none yet: create one in the web app).")], "Add to a campaign")
    chosen = next((c for c in campaigns if c.id == selected), campaigns[0])
    items = [(c.name + (" (you pick the send time)" if c.send_time == "required" else ""),
              str(c.id), c.id == chosen.id) for c in campaigns]
    widgets = [
        w.paragraph(f"Add <b>{esc(cand.name or cand.email)}</b> ({esc(cand.email)})"),
        # Choosing another campaign redraws the form with the options that campaign needs.
        w.dropdown("campaign_id", "Campaign", items,
                   w.action(e.url("campaign_form"), context, spinner=False)),
    ]
    if chosen.send_time != "none":
        label = ("Send the first email at (required)" if chosen.send_time == "required"
                 else "Send the first email at (optional)")
        widgets.append(w.date_time_picker("send_at", label))
    widgets.append(w.buttons(w.action_button(
        "Add to campaign", w.action(e.url("add_person"), context), filled=True)))
    return w.section(widgets, "Add to a campaign")


def message_card(
    people: Sequence[PersonItem],
    *,
    candidate: Candidate | None,
    campaigns: Sequence[CampaignChoice],
    selected: int | None,
    context: dict[str, str],
    today: date,
    e: Endpoints,
) -> Json:
    """`context` rides on every button so that a click can redraw this card without reading
    the message again (parameters come back to us as strings)."""
    sections = [person_section(p, e, today, context) for p in people[:MAX_PEOPLE]]
    if not people:
        sections.append(w.section([w.paragraph(
            "Nobody in this conversation is in your campaigns.")]))
    tail = [add_section(candidate, campaigns, selected, e, context)] if candidate else []
    budget = w.MAX_WIDGETS - sum(len(s["widgets"]) for s in tail)
    sections = w.fit(sections, budget, "More in the web app.") + tail
    return w.card("This conversation", sections, name="message")


@dataclass(frozen=True)
class TemplateChoice:
    id: int
    name: str
    subject: str


def compose_card(
    templates: Sequence[TemplateChoice], *, recipient: str, e: Endpoints, problem: str = ""
) -> Json:
    """The compose-trigger card: pick one of the rep's templates, rendered for the recipient."""
    if problem:
        return w.card("Insert a template", [w.section([w.paragraph(esc(problem))])],
                      name="compose")
    whom = f"for <b>{esc(recipient)}</b>" if recipient else "(add a recipient to fill names in)"
    rows = [w.paragraph(f"Insert one of your templates {whom}.")]
    for t in templates[: w.MAX_WIDGETS - 2]:
        rows.append(w.decorated(esc(t.name), bottom=esc(t.subject), side_button=w.action_button(
            "Insert", w.action(e.url("insert_template"), {"template_id": t.id, "to": recipient}))))
    if not templates:
        rows.append(w.paragraph("You have no templates yet: create one in the web app."))
    return w.card("Insert a template", [w.section(rows)], name="compose")
