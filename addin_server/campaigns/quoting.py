"""A reply step's email: `Re:` subject and the previous email quoted below, Gmail-style. Pure."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime

from addin_server.campaigns.templates import LINE_BREAKS_RE

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _gmail_date(moment: datetime) -> str:
    """`Thu, Nov 26, 2026 at 9:30 AM`, in English whatever the locale."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{_DAYS[moment.weekday()]}, {_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
        f" at {hour}:{moment.minute:02d} {half}"
    )


def quote_previous(new_html: str, previous_html: str, sent_at: datetime, sender: str) -> str:
    """`new_html` followed by the previous email quoted Gmail-style.

    `sent_at` must be aware; it is shown in its own time zone. `previous_html` is inserted as
    given (it is the HTML that was actually sent).
    """
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        raise ValueError("sent_at must be an aware datetime")
    return (
        f"{new_html}"
        '<div class="gmail_quote"><div class="gmail_attr">'
        f"On {_gmail_date(sent_at)}, {html_lib.escape(sender, quote=True)} wrote:<br></div>"
        '<blockquote class="gmail_quote" '
        'style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">'
        f"{previous_html}</blockquote></div>"
    )


_REPLY_PREFIX_RE = re.compile(r"\A\s*(?:re\s*:\s*)+", re.I)


def reply_subject(previous_subject: str) -> str:
    """`Re: <previous subject>` without stacking `Re: Re:`; line breaks become spaces."""
    subject = LINE_BREAKS_RE.sub(" ", previous_subject).strip()
    subject = _REPLY_PREFIX_RE.sub("", subject)
    return f"Re: {subject}".rstrip()
