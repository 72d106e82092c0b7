"""Card primitives (google.apps.card.v1 JSON, camelCase). Each returns one small dict.

Text that comes from people (names, subjects, reasons) goes through `esc`: textParagraph and
decoratedText render a subset of HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Json = dict[str, Any]

MAX_WIDGETS = 100  # Google drops the section that pushes a card past 100 widgets, and the rest


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def action(
    function: str, params: Mapping[str, str | int] | None = None, *, spinner: bool = True
) -> Json:
    """An action calling one of our endpoints. Parameter values are always strings on the wire
    (Google rejects anything else)."""
    return {
        "function": function,
        "loadIndicator": "SPINNER" if spinner else "NONE",
        "parameters": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
    }


def button(text: str, on_click: Json, *, filled: bool = False, disabled: bool = False) -> Json:
    b: Json = {"text": text, "onClick": on_click}
    if filled:
        b["type"] = "FILLED"
    if disabled:
        b["disabled"] = True
    return b


def action_button(text: str, act: Json, *, filled: bool = False) -> Json:
    return button(text, {"action": act}, filled=filled)


def link_button(text: str, url: str) -> Json:
    return button(text, {"openLink": {"url": url}})


def paragraph(text: str) -> Json:
    """A textParagraph; `text` is already escaped or deliberately formatted."""
    return {"textParagraph": {"text": text}}


def decorated(
    text: str, *, top: str = "", bottom: str = "", side_button: Json | None = None
) -> Json:
    d: Json = {"text": text, "wrapText": True}
    if top:
        d["topLabel"] = top
    if bottom:
        d["bottomLabel"] = bottom
    if side_button is not None:
        d["button"] = side_button
    return {"decoratedText": d}


def buttons(*items: Json) -> Json:
    return {"buttonList": {"buttons": list(items)}}


def divider() -> Json:
    return {"divider": {}}


def dropdown(
    name: str, label: str, items: Iterable[tuple[str, str, bool]], on_change: Json | None = None
) -> Json:
    s: Json = {
        "name": name,
        "label": label,
        "type": "DROPDOWN",
        "items": [{"text": t, "value": v, "selected": sel} for t, v, sel in items],
    }
    if on_change is not None:
        s["onChangeAction"] = on_change
    return {"selectionInput": s}


def text_input(name: str, label: str, *, multiline: bool = False, hint: str = "") -> Json:
    t: Json = {"name": name, "label": label,
               "type": "MULTIPLE_LINE" if multiline else "SINGLE_LINE"}
    if hint:
        t["hintText"] = hint
    return {"textInput": t}


def date_time_picker(name: str, label: str, value_ms: int | None = None) -> Json:
    p: Json = {"name": name, "label": label, "type": "DATE_AND_TIME"}
    if value_ms is not None:
        p["valueMsEpoch"] = str(value_ms)
    return {"dateTimePicker": p}


def section(widgets: Sequence[Json], header: str = "", *, collapsible: bool = False) -> Json:
    s: Json = {"widgets": list(widgets)}
    if header:
        s["header"] = header
    if collapsible and len(widgets) > 2:
        s["collapsible"] = True
        s["uncollapsibleWidgetsCount"] = 2
    return s


def card(
    title: str,
    sections: Sequence[Json],
    *,
    subtitle: str = "",
    name: str = "",
    footer: Json | None = None,
) -> Json:
    header: Json = {"title": title}
    if subtitle:
        header["subtitle"] = subtitle
    c: Json = {"header": header, "sections": [s for s in sections if s["widgets"]]}
    if name:
        c["name"] = name
    if footer is not None:
        c["fixedFooter"] = {"primaryButton": footer}
    return c


def widget_count(c: Json) -> int:
    return sum(len(s.get("widgets", [])) for s in c.get("sections", []))


def fit(sections: list[Json], budget: int, overflow_note: str) -> list[Json]:
    """Keep whole sections while they fit in `budget` widgets; when some do not, the last kept
    section ends with a note (so the rep knows there is more, instead of Google silently
    dropping sections)."""
    kept: list[Json] = []
    used = 0
    for s in sections:
        n = len(s["widgets"])
        if used + n > budget - 1:
            room = budget - 1 - used
            if room > 0:
                kept.append({**s, "widgets": s["widgets"][:room]})
            kept.append(section([paragraph(overflow_note)]))
            return kept
        kept.append(s)
        used += n
    return kept
