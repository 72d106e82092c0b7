"""The homepage card: the rep's open tasks, email tasks first, then the others, each bucketed
overdue / today / upcoming, with Write (email tasks), Done and Skip. Paginated so that a page
stays far under Google's 100-widget limit (two widgets per task)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gmail_addon import widgets as w
from gmail_addon.endpoints import Endpoints
from gmail_addon.widgets import Json, esc

PAGE_SIZE = 20


@dataclass(frozen=True)
class TaskItem:
    id: int
    type: str  # email | call | linkedin | custom
    title: str
    due: date
    person_name: str
    person_email: str
    company: str
    campaign: str
    instructions: str = ""
    has_draft: bool = False
    # The due day as the product writes dates ("Wed, 25 Nov"; addin_server/dates.py), which
    # this pure package cannot import; the ISO date when not given.
    due_text: str = ""


def bucket(due: date, today: date) -> str:
    if due < today:
        return "overdue"
    return "today" if due == today else "upcoming"


def _who(t: TaskItem) -> str:
    name = esc(t.person_name or t.person_email)
    if t.person_name:
        name += f" &lt;{esc(t.person_email)}&gt;"
    return name


def task_widgets(t: TaskItem, e: Endpoints, today: date, refresh: dict[str, str]) -> list[Json]:
    """Two widgets: what and who, then the buttons. `refresh` says which card to redraw after
    Done/Skip (parameters travel back to us through Google as strings)."""
    shown = esc(t.due_text or t.due.isoformat())
    when = {"overdue": f"overdue since {shown}", "today": "due today",
            "upcoming": f"due {shown}"}[bucket(t.due, today)]
    if (t.due - today).days == 1:
        when = f"due tomorrow ({shown})"
    bottom = esc(t.campaign) + (" · " + esc(t.company) if t.company else "")
    row = w.decorated(_who(t), top=f"{esc(t.title)} · {when}", bottom=bottom)
    ids = {"task_id": str(t.id), **refresh}
    items = []
    if t.type == "email":
        # A new draft each time: the add-on cannot check that an earlier one still exists.
        label = "Write again" if t.has_draft else "Write"
        items.append(w.action_button(label, w.action(e.url("write"), ids), filled=True))
    items.append(w.action_button("Done", w.action(e.url("done"), ids)))
    items.append(w.action_button("Skip", w.action(e.url("skip"), ids)))
    return [row, w.buttons(*items)]


_HEADERS = {
    ("email", "overdue"): "Email tasks · overdue",
    ("email", "today"): "Email tasks · today",
    ("email", "upcoming"): "Email tasks · upcoming",
    ("other", "overdue"): "Other tasks · overdue",
    ("other", "today"): "Other tasks · today",
    ("other", "upcoming"): "Other tasks · upcoming",
}


def sort_key(t: TaskItem) -> tuple[bool, date, int]:
    """The order tasks are listed and paginated in: email tasks first, then by due date."""
    return (t.type != "email", t.due, t.id)


def homepage_card(
    page_tasks: Sequence[TaskItem], *, total: int, page: int, today: date, e: Endpoints
) -> Json:
    """One page of the list; `page_tasks` is that page (already sorted by `sort_key`)."""
    pages = max(1, -(-total // PAGE_SIZE))
    refresh = {"view": "home", "page": str(page)}
    groups: dict[tuple[str, str], list[Json]] = {}
    for t in page_tasks:
        key = ("email" if t.type == "email" else "other", bucket(t.due, today))
        groups.setdefault(key, []).extend(task_widgets(t, e, today, refresh))
    sections = [w.section(groups[k], _HEADERS[k]) for k in _HEADERS if k in groups]
    if not page_tasks:
        sections.append(w.section([w.paragraph("No open tasks. Nice work.")]))
    nav = []
    if page > 0:
        nav.append(w.action_button("Previous", w.action(e.url("page"), {"page": page - 1})))
    if page + 1 < pages:
        nav.append(w.action_button("Next", w.action(e.url("page"), {"page": page + 1})))
    if nav:
        sections.append(w.section([w.buttons(*nav)]))
    subtitle = f"{total} open task{'s' if total != 1 else ''}"
    if pages > 1:
        subtitle += f" · page {page + 1} of {pages}"
    return w.card("Your tasks", sections, subtitle=subtitle, name="home")


# A call's outcomes, as the server takes them (enums.CallOutcome) and as reps read them.
CALL_OUTCOMES = (("connected", "Connected"), ("left_voicemail", "Left voicemail"),
                 ("no_answer", "No answer"), ("wrong_number", "Wrong number"),
                 ("busy", "Busy"))


def call_outcome_card(t: TaskItem, e: Endpoints, refresh: dict[str, str]) -> Json:
    """Done on a call asks how it went and for a note; Save sends both back to "done"."""
    ids = {"task_id": str(t.id), **refresh}
    return w.card("How did the call go?", [w.section([
        w.decorated(_who(t), top=esc(t.title), bottom=esc(t.campaign)),
        w.dropdown("outcome", "Outcome", [(label, value, False) for value, label in CALL_OUTCOMES]),
        w.text_input("note", "Note", multiline=True, hint="Goes to Salesforce with the call"),
        w.buttons(w.action_button("Save call", w.action(e.url("done"), ids), filled=True)),
    ])], name="call-outcome")

