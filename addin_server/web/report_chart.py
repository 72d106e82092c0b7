"""The results page's chart, drawn on the server as SVG: emails sent per day as bars, replies
per day as a line over them. Pure: figures in, markup out (no script, no library to ship)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from markupsafe import Markup, escape

from addin_server import dates

WIDTH, HEIGHT = 1100, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 16, 28


def nice_ceiling(value: int) -> int:
    """1, 2 or 5 times a power of ten, at least `value` (and 1)."""
    top, step = max(value, 1), 1
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def fill_days(days: list[dict[str, Any]], start: date | None, end: date | None
              ) -> list[dict[str, Any]]:
    """Every day from the first to the last (or the filter's range), zeros included, so that
    quiet days show as gaps rather than disappearing. At most 120 days are drawn."""
    by_day = {d["day"]: d for d in days}
    first = start or (date.fromisoformat(days[0]["day"]) if days else None)
    last = end or (date.fromisoformat(days[-1]["day"]) if days else None)
    if first is None or last is None or last < first:
        return []
    first = max(first, last - timedelta(days=119))
    out, d = [], first
    while d <= last:
        out.append(by_day.get(d.isoformat(), {"day": d.isoformat(), "sent": 0, "replied": 0}))
        d += timedelta(days=1)
    return out


def chart_svg(days: list[dict[str, Any]]) -> Markup:
    """Bars of emails sent and a line of replies per day, with a y axis and date labels."""
    if not days:
        return Markup('<p class="muted chart-empty">No emails sent in this period yet.</p>')
    # Four equal steps of a round size: 0, 2, 4, 6, 8 rather than 0, 1, 2, 3, 5.
    top = 4 * nice_ceiling(-(-max(max(d["sent"], d["replied"]) for d in days) // 4))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)
    bar = max(min(slot * 0.62, 28), 1.5)

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Emails sent and replies per day">']
    for i in range(5):  # grid lines and y labels at 0, 1/4 .. top
        v = top * i // 4
        parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                     f'y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{v}</text>')
    every = max(1, round(len(days) / 8))
    points = []
    for i, d in enumerate(days):
        cx = LEFT + slot * (i + 0.5)
        day = date.fromisoformat(d["day"])
        label = f"{day.day} {dates.MONTHS[day.month - 1]}"  # an axis: no weekday, no year
        title = escape(f"{label}: {d['sent']} sent, {d['replied']} replied")
        parts.append(f'<g><title>{title}</title><rect class="bar-sent" x="{cx - bar / 2:.1f}" '
                     f'y="{y(d["sent"]):.1f}" width="{bar:.1f}" '
                     f'height="{TOP + plot_h - y(d["sent"]):.1f}" rx="2"/></g>')
        points.append(f"{cx:.1f},{y(d['replied']):.1f}")
        if i % every == 0:
            parts.append(f'<text class="axis" x="{cx:.1f}" y="{HEIGHT - 8}" '
                         f'text-anchor="middle">{label}</text>')
    parts.append(f'<polyline class="line-replied" points="{" ".join(points)}"/>')
    for p, d in zip(points, days, strict=True):
        if d["replied"]:
            px, py = p.split(",")
            parts.append(f'<circle class="dot-replied" cx="{px}" cy="{py}" r="3.5"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


FC_WIDTH, FC_HEIGHT = 280, 96
FC_LEFT, FC_TOP, FC_BOTTOM = 6, 14, 18


def forecast_svg(days: list[dict[str, Any]], label: str) -> Markup:
    """A mailbox's next days, small: a bar per day of the sends expected to go, the day's cap
    as a tick above it, the number on each bar. `days` hold date (ISO), expected, due, cap."""
    if not days:
        return Markup("")
    top = nice_ceiling(max([d["expected"] for d in days] + [d["due"] for d in days]
                           + [d["cap"] or 0 for d in days] + [1]))
    plot_h = FC_HEIGHT - FC_TOP - FC_BOTTOM
    slot = (FC_WIDTH - 2 * FC_LEFT) / len(days)
    bar = slot * 0.56

    def y(v: int) -> float:
        return FC_TOP + plot_h - plot_h * min(v, top) / top

    summary = "; ".join(
        f"{dates.day(date.fromisoformat(d['date']), year=False)}: {d['expected']} expected"
        + (f" of {d['due']} due" if d["due"] != d["expected"] else "")
        + (f", cap {d['cap']}" if d["cap"] else "") for d in days)
    parts = [f'<svg class="forecast-chart" viewBox="0 0 {FC_WIDTH} {FC_HEIGHT}" role="img" '
             f'aria-label="{escape(label)}: {escape(summary)}">',
             f'<line class="grid-line" x1="{FC_LEFT}" x2="{FC_WIDTH - FC_LEFT}" '
             f'y1="{y(0):.1f}" y2="{y(0):.1f}"/>']
    for i, d in enumerate(days):
        cx = FC_LEFT + slot * (i + 0.5)
        day = date.fromisoformat(d["date"])
        title = escape(f"{dates.day(day, year=False)}: {d['expected']} expected, {d['due']} due"
                       + (f", cap {d['cap']}" if d["cap"] else ""))
        parts.append(f'<g><title>{title}</title>'
                     f'<rect class="bar-due" x="{cx - bar / 2:.1f}" y="{y(d["due"]):.1f}" '
                     f'width="{bar:.1f}" height="{y(0) - y(d["due"]):.1f}" rx="2"/>'
                     f'<rect class="bar-expected" x="{cx - bar / 2:.1f}" '
                     f'y="{y(d["expected"]):.1f}" width="{bar:.1f}" '
                     f'height="{y(0) - y(d["expected"]):.1f}" rx="2"/></g>')
        if d["cap"]:
            parts.append(f'<line class="cap-tick" x1="{cx - slot * 0.4:.1f}" '
                         f'x2="{cx + slot * 0.4:.1f}" y1="{y(d["cap"]):.1f}" '
                         f'y2="{y(d["cap"]):.1f}"/>')
        parts.append(f'<text class="axis" x="{cx:.1f}" y="{max(y(d["expected"]) - 3, 10):.1f}" '
                     f'text-anchor="middle">{d["expected"]}</text>'
                     f'<text class="axis" x="{cx:.1f}" y="{FC_HEIGHT - 4}" '
                     f'text-anchor="middle">{dates.DAYS[day.weekday()]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
