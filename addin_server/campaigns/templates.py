"""Templates: merge fields, defaults, prompts and sanitising. Pure.

Quoting the previous email is in quoting.py; the text alternative in addin_server/html_text.py.

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
from typing import Literal

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
LINE_BREAKS_RE = re.compile("[ \t]*[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")


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
    # A hand-written parser of the one expression syntax; each branch is one form
    # (prompt, field, field with default) and reads in order, so it stays one function.
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


def is_field_name(name: str) -> bool:
    """Whether `name` may name a merge field (`{{name}}`)."""
    return bool(_NAME_RE.match(name))


def field_names(text: str) -> set[str]:
    """Every merge field `text` refers to."""
    return {t.name for t in _tokens(text) if t.kind == "field"}


def required_fields(text: str) -> set[str]:
    """The merge fields `text` needs a value for (those without a default)."""
    return {t.name for t in _tokens(text) if t.kind == "field" and t.default is None}


# --------------------------------------------------------------------------------------------
# Rendering


def render(text: str, values: Mapping[str, str | None], *, html: bool, keep_prompts: bool) -> str:
    """Fill merge fields; escape values for HTML when `html` and clean the result as
    sanitize_html does (so no merged value makes a link of a refused scheme); raise
    MissingFields for holes.

    Raises ValueError on a malformed template (check_template reports those when it is saved),
    PromptsLeft when prompts remain and not `keep_prompts`, then MissingFields for fields with
    neither a value nor a default (all of them at once). Values are stripped of surrounding
    white space. With `html=False` (a subject) every line break becomes a space.
    """
    return render_filled(text, values, html=html, keep_prompts=keep_prompts,
                         missing="raise")[0]


MissingMode = Literal["raise", "blank", "mark", "keep"]
MISSING_MARK_CLASS = "missing-field"


def render_filled(text: str, values: Mapping[str, str | None], *, html: bool,
                  keep_prompts: bool, missing: MissingMode) -> tuple[str, list[str]]:
    """`render`, and what to do with a field that has neither a value nor a default:
    "raise" (MissingFields), "blank" (the empty text: what "send with the default text"
    sends), "mark" (a preview: `<mark class="missing-field">name</mark>` in HTML, `[name]`
    in a subject) or "keep" (the expression stays as written, for the rep to replace in a
    compose window, like a prompt). Returns the text and the missing fields' names, sorted."""
    tokens = _tokens(text)
    errors = [t.message for t in tokens if t.kind == "error"]
    if errors:
        raise ValueError("malformed template: " + "; ".join(errors))
    prompts = [t.prompt for t in tokens if t.kind == "prompt"]
    if prompts and not keep_prompts:
        raise PromptsLeft(prompts)
    lowered = {key.lower(): value for key, value in values.items()}
    # A mark is a placeholder while the result is cleaned (nh3 would drop a <mark>), put back
    # as markup in text and dropped inside a tag (an attribute cannot hold markup).
    nonce = "zm" + uuid.uuid4().hex if missing == "mark" and html else ""
    out: list[str] = []
    holes: set[str] = set()
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
            holes.add(token.name)
            if missing == "mark":
                out.append(f"{nonce}{token.name}{nonce}" if html else f"[{token.name}]")
            elif missing == "keep":
                out.append(text[token.start : token.end])
    out.append(text[pos:])
    if holes and missing == "raise":
        raise MissingFields(sorted(holes))
    result = "".join(out)
    if not html:
        return LINE_BREAKS_RE.sub(" ", result), sorted(holes)
    # Sanitised again after merging: a value is escaped, but in an attribute it can still be a
    # whole URL (`href="{{first_name}}"` with `javascript:alert(1)`), which only the cleaner's
    # URL schemes refuse. Preview, compose and the sent email all render here.
    cleaned = sanitize_html(result)
    if nonce and holes:
        cleaned = _put_marks(cleaned, nonce)
    return cleaned, sorted(holes)


def _put_marks(cleaned: str, nonce: str) -> str:
    placeholder = re.compile(re.escape(nonce) + r"([A-Za-z0-9_]+?)" + re.escape(nonce))
    mark = f'<mark class="{MISSING_MARK_CLASS}" title="missing merge field">\\1</mark>'
    out: list[str] = []
    pos = 0
    for tag in _TAG_RE.finditer(cleaned):
        out.append(placeholder.sub(mark, cleaned[pos : tag.start()]))
        out.append(placeholder.sub("", tag.group(0)))
        pos = tag.end()
    out.append(placeholder.sub(mark, cleaned[pos:]))
    return "".join(out)


def _escape_value(value: str, html: bool) -> str:
    if html:
        # Also for unsubscribe_link: an escaped URL is the same URL in text and in attributes.
        return html_lib.escape(value, quote=True)
    return LINE_BREAKS_RE.sub(" ", value)


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
