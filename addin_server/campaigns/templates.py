"""Templates: merge fields, defaults, prompts, sanitising, quoting the previous email. Pure.

Syntax: `{{first_name}}`, `{{ company | default: "your team" }}`, prompts `{{! one line about
their industry }}` that the rep must replace, and `{{unsubscribe_link}}`.

Rules of the syntax (one place, so that the editor, the checker and the renderer agree):

- An expression runs from `{{` to the first `}}` after it; a stray `}}` is literal text.
  A default value therefore cannot contain `{{` or `}}`.
- Field names match `[A-Za-z_][A-Za-z0-9_]*` and are case-insensitive (lower-cased).
- The only filter is `default`, with one value in double or single quotes (may be empty).
- In an HTML body a default is HTML text: it is unescaped, then escaped again when rendered, so
  `default: "Smith &amp; Co"` and `default: "Smith & Co"` both render `Smith &amp; Co`.
"""

from __future__ import annotations

import html as html_lib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

import nh3


@dataclass(frozen=True)
class TemplateError:
    """A problem found when a template is saved; `message` is for the rep."""

    message: str


class MissingFields(Exception):
    """A send cannot be rendered: these fields have no value and no default."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("missing merge fields: " + ", ".join(names))
        self.names = names


class PromptsLeft(Exception):
    """A manual email still holds `{{! ...}}` prompts that the rep must replace."""

    def __init__(self, prompts: list[str]) -> None:
        super().__init__("replace the prompts before sending: " + "; ".join(prompts))
        self.prompts = prompts


STANDARD_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "company",
        "title",
        "email",
        "sender_name",
        "sender_email",
        "unsubscribe_link",
    }
)

# --------------------------------------------------------------------------------------------
# Parsing


_OPEN = "{{"
_CLOSE = "}}"
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FILTER_RE = re.compile(r"\s*(?P<filter>[A-Za-z_][A-Za-z0-9_]*)?\s*(?P<colon>:)?\s*", re.S)
_SNIPPET_MAX = 60
# Everything `str.splitlines` breaks on (none of it may reach a header), with the blanks
# around it, so that a folded header line becomes one space.
_LINE_BREAKS_RE = re.compile("[ \t]*[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")


@dataclass(frozen=True)
class _Token:
    """One `{{ ... }}` occurrence: a field, a prompt, or an error."""

    start: int
    end: int  # exclusive
    kind: str  # "field", "prompt" or "error"
    name: str = ""  # field: lower-cased name
    default: str | None = None  # field: the default value, if any
    arg_span: tuple[int, int] | None = None  # field: span of the quoted default, quotes included
    prompt: str = ""  # prompt: stripped text
    message: str = ""  # error


def _snippet(text: str) -> str:
    if len(text) > _SNIPPET_MAX:
        return text[: _SNIPPET_MAX - 1] + "…"
    return text


def _error(start: int, end: int, problem: str, snippet: str) -> _Token:
    return _Token(start, end, "error", message=f"{problem}: {_snippet(snippet)}")


def _parse_body(text: str, start: int, end: int) -> _Token:
    """Parse the expression `text[start:end]`, which is `{{ body }}`."""
    expr = text[start:end]
    body_start = start + len(_OPEN)
    body = text[body_start : end - len(_CLOSE)]
    stripped = body.strip()
    if not stripped:
        return _error(start, end, "Empty merge field", expr)
    if stripped.startswith("!"):
        prompt = stripped[1:].strip()
        if not prompt:
            return _error(start, end, "Empty prompt", expr)
        return _Token(start, end, "prompt", prompt=prompt)
    name_part, bar, rest = body.partition("|")
    name = name_part.strip()
    if not name:
        return _error(start, end, "Missing field name before '|'", expr)
    if not _NAME_RE.match(name):
        return _error(
            start,
            end,
            f"Invalid field name {name!r} (use letters, digits and _, not starting with a digit)",
            expr,
        )
    if not bar:
        return _Token(start, end, "field", name=name.lower())
    head = _FILTER_RE.match(rest)
    assert head is not None  # the pattern matches the empty string
    filter_name = head.group("filter")
    if filter_name is None:
        return _error(start, end, "Missing filter name after '|'", expr)
    if filter_name.lower() != "default":
        return _error(
            start, end, f"Unknown filter {filter_name!r} (only 'default' is supported)", expr
        )
    if head.group("colon") is None:
        return _error(start, end, "The default filter needs ':' and a quoted value", expr)
    arg = rest[head.end() :].rstrip()
    arg_start = body_start + len(name_part) + len(bar) + head.end()
    if not arg:
        return _error(start, end, "The default filter needs a quoted value", expr)
    quote = arg[0]
    if quote not in "\"'":
        return _error(
            start, end, 'The default value must be in quotes, like default: "there"', expr
        )
    close = arg.find(quote, 1)
    if close < 0:
        return _error(start, end, f"Unterminated quote {quote} in the default value", expr)
    if arg[close + 1 :].strip():
        return _error(
            start, end, "Unexpected text after the default value (only one filter allowed)", expr
        )
    return _Token(
        start,
        end,
        "field",
        name=name.lower(),
        default=arg[1:close],
        arg_span=(arg_start, arg_start + close + 1),
    )


def _tokens(text: str) -> list[_Token]:
    """Every `{{ ... }}` in `text`, in order, malformed ones as errors."""
    tokens: list[_Token] = []
    pos = 0
    while True:
        start = text.find(_OPEN, pos)
        if start < 0:
            return tokens
        close = text.find(_CLOSE, start + len(_OPEN))
        nested = text.find(_OPEN, start + len(_OPEN))
        if nested >= 0 and (close < 0 or nested < close):
            snippet = text[start : (close + len(_CLOSE)) if close >= 0 else nested + len(_OPEN)]
            tokens.append(_error(start, nested, "'{{' is not closed before the next '{{'", snippet))
            pos = nested
            continue
        if close < 0:
            tokens.append(_error(start, len(text), "'{{' without '}}'", text[start:]))
            return tokens
        end = close + len(_CLOSE)
        tokens.append(_parse_body(text, start, end))
        pos = end


# --------------------------------------------------------------------------------------------
# Checking and reading


def check_template(text: str, *, allow_prompts: bool) -> list[TemplateError]:
    """Errors in a subject or body: malformed merge expressions, prompts where not allowed."""
    errors: list[TemplateError] = []
    for token in _tokens(text):
        if token.kind == "error":
            errors.append(TemplateError(token.message))
        elif token.kind == "prompt" and not allow_prompts:
            errors.append(
                TemplateError(
                    "Prompts must be replaced by hand and are allowed only on manual steps: "
                    + _snippet(text[token.start : token.end])
                )
            )
    return errors


def find_prompts(text: str) -> list[str]:
    """The prompt texts (`{{! ... }}`) still present in `text`."""
    return [t.prompt for t in _tokens(text) if t.kind == "prompt"]


def field_names(text: str) -> set[str]:
    """Every merge field `text` refers to."""
    return {t.name for t in _tokens(text) if t.kind == "field"}


# --------------------------------------------------------------------------------------------
# Rendering


def render(text: str, values: Mapping[str, str | None], *, html: bool, keep_prompts: bool) -> str:
    """Fill merge fields; escape values for HTML when `html`; raise MissingFields for holes.

    Raises ValueError on a malformed template (check_template reports those when it is saved),
    PromptsLeft when prompts remain and not `keep_prompts`, then MissingFields for fields with
    neither a value nor a default (all of them at once). Values are stripped of surrounding
    white space. With `html=False` (a subject) every line break becomes a space.
    """
    tokens = _tokens(text)
    errors = [t.message for t in tokens if t.kind == "error"]
    if errors:
        raise ValueError("malformed template: " + "; ".join(errors))
    prompts = [t.prompt for t in tokens if t.kind == "prompt"]
    if prompts and not keep_prompts:
        raise PromptsLeft(prompts)
    lowered = {key.lower(): value for key, value in values.items()}
    out: list[str] = []
    missing: set[str] = set()
    pos = 0
    for token in tokens:
        out.append(text[pos : token.start])
        pos = token.end
        if token.kind == "prompt":
            out.append(text[token.start : token.end])
            continue
        value = lowered.get(token.name)
        filled = value.strip() if value is not None else ""
        if filled:
            out.append(_escape_value(filled, html))
        elif token.default is not None:
            default = html_lib.unescape(token.default) if html else token.default
            out.append(_escape_value(default, html))
        else:
            missing.add(token.name)
    out.append(text[pos:])
    if missing:
        raise MissingFields(sorted(missing))
    result = "".join(out)
    if not html:
        result = _LINE_BREAKS_RE.sub(" ", result)
    return result


def _escape_value(value: str, html: bool) -> str:
    if html:
        # Also for unsubscribe_link: an escaped URL is the same URL in text and in attributes.
        return html_lib.escape(value, quote=True)
    return _LINE_BREAKS_RE.sub(" ", value)


# --------------------------------------------------------------------------------------------
# Sanitising


_ALLOWED_TAGS = {
    "p", "br", "div", "span", "a", "b", "strong", "i", "em", "u", "ul", "ol", "li",
    "blockquote", "img", "table", "tbody", "thead", "tr", "td", "th", "h1", "h2", "h3", "h4",
    "hr",
}  # fmt: skip
_STYLED_TAGS = _ALLOWED_TAGS - {"br", "hr"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {tag: {"style"} for tag in _STYLED_TAGS}
_ALLOWED_ATTRIBUTES["a"] |= {"href", "title"}
_ALLOWED_ATTRIBUTES["img"] |= {"src", "alt", "width", "height"}
for _tag in ("div", "span", "blockquote"):
    _ALLOWED_ATTRIBUTES[_tag] |= {"class"}
for _tag in ("td", "th"):
    _ALLOWED_ATTRIBUTES[_tag] |= {"colspan", "rowspan"}
_ALLOWED_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "text-align", "text-decoration", "text-indent", "text-transform",
    "line-height", "letter-spacing", "vertical-align", "white-space",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-collapse", "border-radius",
    "width", "height", "max-width", "min-width", "display",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
_TAG_RE = re.compile(r'<(?:[^>"]|"[^"]*")*>')


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "style" and re.search(r"url\s*\(|expression\s*\(|javascript:", value, re.I):
        return None
    return value


def sanitize_html(body: str) -> str:
    """Remove what must not be in an email body (scripts, event handlers, javascript: URLs).

    Valid merge expressions and prompts are kept as written (they are set aside while nh3
    cleans, then put back); a `<` or `>` inside one is escaped, and inside an attribute a
    default is re-quoted with single quotes (its quotes escaped) so the attribute stays closed.
    Malformed expressions are cleaned like any other text.
    """
    tokens = [t for t in _tokens(body) if t.kind != "error"]
    nonce = "zq" + uuid.uuid4().hex
    while nonce in body:  # pragma: no cover - a 128-bit random collision
        nonce = "zq" + uuid.uuid4().hex
    parts: list[str] = []
    pos = 0
    for i, token in enumerate(tokens):
        parts.append(body[pos : token.start])
        parts.append(f"{nonce}{i}z")
        pos = token.end
    parts.append(body[pos:])
    cleaned = nh3.clean(
        "".join(parts),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=_URL_SCHEMES,
        filter_style_properties=_ALLOWED_STYLE_PROPERTIES,
        link_rel=None,
    )
    if not tokens:
        return cleaned
    placeholder = re.compile(re.escape(nonce) + r"(\d+)z")

    def restore(match: re.Match[str], in_tag: bool) -> str:
        token = tokens[int(match.group(1))]
        return _restore_expression(body, token, in_tag)

    def restore_segment(segment: str, in_tag: bool) -> str:
        return placeholder.sub(lambda m: restore(m, in_tag), segment)

    out: list[str] = []
    pos = 0
    for tag in _TAG_RE.finditer(cleaned):
        out.append(restore_segment(cleaned[pos : tag.start()], False))
        out.append(restore_segment(tag.group(0), True))
        pos = tag.end()
    out.append(restore_segment(cleaned[pos:], False))
    return "".join(out)


def _restore_expression(body: str, token: _Token, in_tag: bool) -> str:
    if not in_tag:
        return body[token.start : token.end].replace("<", "&lt;").replace(">", "&gt;")
    if token.arg_span is None:
        expr = body[token.start : token.end]
        return expr.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    arg_start, arg_end = token.arg_span
    content = body[arg_start + 1 : arg_end - 1]
    for char, entity in (("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        content = content.replace(char, entity)
    return body[token.start : arg_start] + "'" + content + "'" + body[arg_end : token.end]


# --------------------------------------------------------------------------------------------
# Text alternative


_BLOCK_TAGS = {
    "address", "article", "aside", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "header", "li", "main", "nav", "pre", "section", "tr",
}  # fmt: skip
_PARAGRAPH_TAGS = {
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "table", "ul",
}  # fmt: skip
_SKIP_TAGS = {"head", "script", "style", "title", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []  # (blockquote depth, text)
        self.current: list[str] = []
        self.depth = 0
        self.skip = 0
        self.links: list[tuple[str, list[str]]] = []  # open <a>: href, text seen inside
        self.lists: list[list[int]] = []  # open lists: [next number], or [-1] for <ul>
        self.cells_in_row = 0

    # Line handling ----------------------------------------------------------------------
    def _text(self, data: str) -> None:
        self.current.append(data)
        for _href, seen in self.links:
            seen.append(data)

    def _break(self) -> None:
        line = re.sub(r"\s+", " ", "".join(self.current)).strip()
        self.current = []
        if line:
            self.lines.append((self.depth, line))

    def _paragraph(self) -> None:
        self._break()
        self.lines.append((self.depth, ""))

    # Parser callbacks -------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._break()
        elif tag == "blockquote":
            self._paragraph()
            self.depth += 1
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._break()
        if tag == "tr":
            self.cells_in_row = 0
        elif tag in ("td", "th"):
            if self.cells_in_row:
                self._text(" ")
            self.cells_in_row += 1
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else -1])
        elif tag == "li":
            if self.lists and self.lists[-1][0] > 0:
                self._text(f"{self.lists[-1][0]}. ")
                self.lists[-1][0] += 1
            else:
                self._text("- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", []))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._text(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "a" and self.links:
            href, seen = self.links.pop()
            label = re.sub(r"\s+", " ", "".join(seen)).strip()
            target = href.strip()
            if target.lower().startswith("mailto:") and target[7:] == label:
                target = label
            if target and target != label:
                self._text(f" ({target})" if label else target)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "blockquote":
            self._paragraph()
            self.depth = max(0, self.depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._text(data)

    def text(self) -> str:
        self._break()
        out: list[str] = []
        blank_depth: int | None = None
        for depth, line in self.lines:
            if not line:
                blank_depth = depth if blank_depth is None else min(blank_depth, depth)
                continue
            if blank_depth is not None and out:
                out.append(("> " * blank_depth).rstrip())
            blank_depth = None
            out.append("> " * depth + line)
        return "\n".join(out).strip()


def html_to_text(body: str) -> str:
    """A readable text/plain alternative of an HTML body."""
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    return parser.text()


# --------------------------------------------------------------------------------------------
# Replies


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
    subject = _LINE_BREAKS_RE.sub(" ", previous_subject).strip()
    subject = _REPLY_PREFIX_RE.sub("", subject)
    return f"Re: {subject}".rstrip()
