"""A reply step's email: `Re:` subject and the previous email quoted below, Gmail-style. Pure."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime

from addin_server import dates
from addin_server.campaigns.templates import LINE_BREAKS_RE


def quote_previous(new_html: str, previous_html: str, sent_at: datetime, tz: str,
                   sender_name: str, sender_address: str) -> str:
    """`new_html` followed by the previous email quoted Gmail-style, under
    `On Tue, 3 Mar 2026 at 09:34, Name <address> wrote:` in `tz` (the rep's zone: the rep is
    the one who wrote it, and the date style is the product's one, see dates.py).

    `sent_at` must be aware. `previous_html` is inserted as given (it is the HTML that was
    actually sent).
    """
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        raise ValueError("sent_at must be an aware datetime")
    header = dates.quote_header(sent_at, tz, sender_name, sender_address)
    return (
        f"{new_html}"
        '<div class="gmail_quote"><div class="gmail_attr">'
        f"{html_lib.escape(header, quote=True)}<br></div>"
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
