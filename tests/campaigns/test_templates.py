"""Templates: syntax checks, rendering, sanitising, text alternative, replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from addin_server.campaigns.quoting import quote_previous, reply_subject
from addin_server.campaigns.templates import (
    MissingFields,
    PromptsLeft,
    TemplateError,
    check_template,
    field_names,
    find_prompts,
    render,
    sanitize_html,
)
from addin_server.html_text import html_to_text

# --------------------------------------------------------------------------------------------
# check_template


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{first_name}}",
        "Hi {{ first_name }}, from {{ SENDER_NAME }}",
        'Hi {{ first_name | default: "there" }}',
        "Hi {{ first_name | default: 'there' }}",
        'Hi {{first_name|default:""}}',
        'Hi {{ first_name | DEFAULT : "a b" }}',
        "{{ favourite_colour }} is a custom field",
        "{{_private2}}",
        "A stray }} is literal text",
        "No fields at all",
        "",
    ],
)
def test_check_template_accepts_valid_text(text: str) -> None:
    assert check_template(text, allow_prompts=False) == []


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("Hi {{first_name", ["'{{' without '}}': {{first_name"]),
        ("{{}}", ["Empty merge field: {{}}"]),
        ("{{   }}", ["Empty merge field: {{   }}"]),
        (
            "{{first name}}",
            [
                "Invalid field name 'first name' (use letters, digits and _, not starting with "
                "a digit): {{first name}}"
            ],
        ),
        (
            "{{1abc}}",
            [
                "Invalid field name '1abc' (use letters, digits and _, not starting with "
                "a digit): {{1abc}}"
            ],
        ),
        (
            "{{ x | default: there }}",
            [
                'The default value must be in quotes, like default: "there": '
                "{{ x | default: there }}"
            ],
        ),
        (
            '{{ x | default: "there }}',
            ['Unterminated quote " in the default value: {{ x | default: "there }}'],
        ),
        (
            "{{ x | default: 'there }}",
            ["Unterminated quote ' in the default value: {{ x | default: 'there }}"],
        ),
        (
            "{{ a {{ b }}",
            ["'{{' is not closed before the next '{{': {{ a {{ b }}"],
        ),
        (
            "{{ x | upper }}",
            ["Unknown filter 'upper' (only 'default' is supported): {{ x | upper }}"],
        ),
        ("{{ x | }}", ["Missing filter name after '|': {{ x | }}"]),
        ('{{ | default: "a" }}', ["Missing field name before '|': {{ | default: \"a\" }}"]),
        (
            "{{ x | default }}",
            ["The default filter needs ':' and a quoted value: {{ x | default }}"],
        ),
        ("{{ x | default: }}", ["The default filter needs a quoted value: {{ x | default: }}"]),
        (
            "{{ x | default: 'a' | default: 'b' }}",
            [
                "Unexpected text after the default value (only one filter allowed): "
                "{{ x | default: 'a' | default: 'b' }}"
            ],
        ),
        ("{{! }}", ["Empty prompt: {{! }}"]),
        (
            "{{ first name }} and {{ x | shout }} and {{ y",
            [
                "Invalid field name 'first name' (use letters, digits and _, not starting with "
                "a digit): {{ first name }}",
                "Unknown filter 'shout' (only 'default' is supported): {{ x | shout }}",
                "'{{' without '}}': {{ y",
            ],
        ),
        (
            "{{ " + "x" * 80,
            ["'{{' without '}}': {{ " + "x" * 56 + "…"],
        ),
    ],
)
def test_check_template_reports_each_error(text: str, messages: list[str]) -> None:
    assert check_template(text, allow_prompts=True) == [TemplateError(m) for m in messages]


def test_nested_open_resumes_at_the_inner_expression() -> None:
    text = "{{ a {{ first name }}"
    assert check_template(text, allow_prompts=True) == [
        TemplateError("'{{' is not closed before the next '{{': {{ a {{ first name }}"),
        TemplateError(
            "Invalid field name 'first name' (use letters, digits and _, not starting with "
            "a digit): {{ first name }}"
        ),
    ]


@pytest.mark.parametrize(
    ("allow_prompts", "messages"),
    [
        (True, []),
        (
            False,
            [
                "Prompts must be replaced by hand and are allowed only on manual steps: "
                "{{! one line about their industry }}",
                "Prompts must be replaced by hand and are allowed only on manual steps: "
                "{{!a compliment}}",
            ],
        ),
    ],
)
def test_prompts_only_where_allowed(allow_prompts: bool, messages: list[str]) -> None:
    text = "Hi {{first_name}}, {{! one line about their industry }} and {{!a compliment}}"
    assert check_template(text, allow_prompts=allow_prompts) == [TemplateError(m) for m in messages]


# --------------------------------------------------------------------------------------------
# field_names, find_prompts


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hi {{First_Name}} at {{ COMPANY | default: 'you' }}", {"first_name", "company"}),
        ("{{ first_name }} {{FIRST_NAME}} {{! not a field }}", {"first_name"}),
        ("{{ shoe_size }} {{ first name }}", {"shoe_size"}),
        ("nothing", set()),
    ],
)
def test_field_names(text: str, names: set[str]) -> None:
    assert field_names(text) == names


@pytest.mark.parametrize(
    ("text", "prompts"),
    [
        (
            "{{!  one line about their industry }} {{first_name}} {{!ask about Q3}}",
            ["one line about their industry", "ask about Q3"],
        ),
        ("{{ first_name }}", []),
    ],
)
def test_find_prompts(text: str, prompts: list[str]) -> None:
    assert find_prompts(text) == prompts


# --------------------------------------------------------------------------------------------
# render


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("Hi {{first_name}}!", {"first_name": "Ann"}, "Hi Ann!"),
        ("Hi {{ FIRST_NAME }}!", {"first_name": "Ann"}, "Hi Ann!"),
        ("Hi {{ First_Name }}!", {"First_Name": "Ann"}, "Hi Ann!"),
        ("Hi {{first_name}}!", {"first_name": "  Ann "}, "Hi Ann!"),
        ('Hi {{ first_name | default: "there" }}!', {"first_name": None}, "Hi there!"),
        ('Hi {{ first_name | default: "there" }}!', {"first_name": ""}, "Hi there!"),
        ("Hi {{ first_name | default: 'there' }}!", {"first_name": "   "}, "Hi there!"),
        ('Hi {{ first_name | default: "there" }}!', {}, "Hi there!"),
        ('Hi{{ first_name | default: "" }}!', {"first_name": None}, "Hi!"),
        ('Hi {{ first_name | default: "there" }}!', {"first_name": "Ann"}, "Hi Ann!"),
        ("{{ shoe_size }} shoes", {"shoe_size": "42"}, "42 shoes"),
        ("Stray }} stays", {}, "Stray }} stays"),
    ],
)
def test_render_plain(text: str, values: dict[str, str | None], expected: str) -> None:
    assert render(text, values, html=False, keep_prompts=False) == expected


def test_render_reports_every_missing_field_together() -> None:
    text = "{{ last_name }} {{company}} {{ first_name | default: 'x' }} {{Company}} {{ title }}"
    with pytest.raises(MissingFields) as caught:
        render(text, {"company": " ", "title": None}, html=True, keep_prompts=False)
    assert caught.value.names == ["company", "last_name", "title"]
    assert str(caught.value) == "missing merge fields: company, last_name, title"


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        (
            "<p>Hi {{first_name}}</p>",
            {"first_name": "<script>alert(1)</script>"},
            "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>",
        ),
        (
            '<a title="{{company}}">x</a>',
            {"company": "Smith & \"Sons\" 'Ltd'"},
            "<a title=\"Smith &amp; &quot;Sons&quot; 'Ltd'\">x</a>",
        ),
        (
            "<p>{{ company | default: '<b>you</b> & co' }}</p>",
            {},
            "<p>&lt;b&gt;you&lt;/b&gt; &amp; co</p>",
        ),
        (
            "<p>{{ company | default: 'Smith &amp; Co' }}</p>",
            {},
            "<p>Smith &amp; Co</p>",
        ),
        (
            '<a href="{{ unsubscribe_link }}">Unsubscribe</a>',
            {"unsubscribe_link": "https://example.com/u?t=abc&s=1"},
            '<a href="https://example.com/u?t=abc&amp;s=1">Unsubscribe</a>',
        ),
        (
            "<p>line\nbreaks stay in HTML {{first_name}}</p>",
            {"first_name": "A\nB"},
            "<p>line\nbreaks stay in HTML A\nB</p>",
        ),
    ],
)
def test_render_html_escapes_values_and_defaults(
    text: str, values: dict[str, str | None], expected: str
) -> None:
    assert render(text, values, html=True, keep_prompts=False) == expected


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("Hi {{first_name}}", {"first_name": "Ann\r\nBcc: x@y.example"}, "Hi Ann Bcc: x@y.example"),
        ("Hi {{first_name}}", {"first_name": "Ann\rX\nY"}, "Hi Ann X Y"),
        ("Hi {{first_name}}", {"first_name": "Ann\u2028X"}, "Hi Ann X"),
        ("Hi\r\n{{first_name}}", {"first_name": "Ann"}, "Hi Ann"),
        ("Hi \r\n\t{{first_name}}", {"first_name": "Ann"}, "Hi Ann"),
        ("Hi {{ x | default: 'a\nb' }}", {}, "Hi a b"),
        ("<b>{{first_name}}</b>", {"first_name": "<i>"}, "<b><i></b>"),
    ],
)
def test_render_subject_has_no_line_breaks_and_raw_values(
    text: str, values: dict[str, str | None], expected: str
) -> None:
    assert render(text, values, html=False, keep_prompts=False) == expected


def test_render_keeps_prompts_for_the_compose_window() -> None:
    text = "<p>Hi {{first_name}}, {{! one line about their industry }}</p>"
    assert (
        render(text, {"first_name": "Ann"}, html=True, keep_prompts=True)
        == "<p>Hi Ann, {{! one line about their industry }}</p>"
    )


def test_render_refuses_prompts_left() -> None:
    text = "Hi {{first_name}}, {{! one line about their industry }} {{!ask about Q3}}"
    with pytest.raises(PromptsLeft) as caught:
        render(text, {"first_name": "Ann"}, html=True, keep_prompts=False)
    assert caught.value.prompts == ["one line about their industry", "ask about Q3"]


def test_render_refuses_a_malformed_template() -> None:
    with pytest.raises(ValueError, match=r"malformed template: Empty merge field: \{\{\}\}"):
        render("Hi {{}}", {}, html=False, keep_prompts=False)


# --------------------------------------------------------------------------------------------
# sanitize_html


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '<p onclick="steal()">Hi {{ first_name | default: "a b" }},</p>'
            "<script>alert(1)</script>",
            '<p>Hi {{ first_name | default: "a b" }},</p>',
        ),
        (
            '<a href="javascript:alert(1)">click</a> <a href="JaVaScRiPt:alert(1)">x</a>',
            "<a>click</a> <a>x</a>",
        ),
        (
            '<a href="{{ unsubscribe_link }}">Unsubscribe</a>'
            '<img src="https://x.example/a.png" alt="logo" width="10" height="5" onerror="x()">',
            '<a href="{{ unsubscribe_link }}">Unsubscribe</a>'
            '<img src="https://x.example/a.png" alt="logo" width="10" height="5">',
        ),
        (
            '<div class="sig"><b>Bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u>'
            '<br><span style="color: red; position: fixed">red</span></div>',
            '<div class="sig"><b>Bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u>'
            '<br><span style="color:red">red</span></div>',
        ),
        (
            '<h1>T</h1><ul><li>a</li></ul><ol><li>b</li></ol><blockquote class="q">q</blockquote>'
            "<hr><table><thead><tr><th>h</th></tr></thead><tbody><tr><td>c</td></tr></tbody></table>",
            '<h1>T</h1><ul><li>a</li></ul><ol><li>b</li></ol><blockquote class="q">q</blockquote>'
            "<hr><table><thead><tr><th>h</th></tr></thead><tbody><tr><td>c</td></tr></tbody></table>",
        ),
        (
            '<p style="background-image: url(javascript:x)">p</p><style>p{}</style>'
            '<iframe src="https://x"></iframe><form>f</form>',
            "<p>p</p>f",
        ),
        (
            "<p>{{first_name}}, {{ company | default: 'your team' }} & {{! a line }}</p>",
            "<p>{{first_name}}, {{ company | default: 'your team' }} &amp; {{! a line }}</p>",
        ),
        (
            '<p>{{ x | default: "<script>alert(1)</script>" }}</p>',
            '<p>{{ x | default: "&lt;script&gt;alert(1)&lt;/script&gt;" }}</p>',
        ),
        (
            '<a title=\'{{ x | default: "a b" }}\' href="https://e.com/?id={{ id }}">t</a>',
            '<a title="{{ x | default: \'a b\' }}" href="https://e.com/?id={{ id }}">t</a>',
        ),
        (
            "<a title='{{ x | default: \"O'B\" }}'>t</a>",
            "<a title=\"{{ x | default: 'O&#39;B' }}\">t</a>",
        ),
        (
            "<p>{{ bad name }} <b>ok</b></p>",
            "<p>{{ bad name }} <b>ok</b></p>",
        ),
    ],
)
def test_sanitize_html(body: str, expected: str) -> None:
    assert sanitize_html(body) == expected


def test_sanitized_attribute_default_still_renders() -> None:
    sanitized = sanitize_html("<a title='{{ x | default: \"O'B <z>\" }}'>t</a>")
    assert check_template(sanitized, allow_prompts=False) == []
    assert render(sanitized, {}, html=True, keep_prompts=False) == (
        "<a title=\"O'B &lt;z&gt;\">t</a>"
    )


# --------------------------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<div>Hi&nbsp;<b>Ann</b>,<br>how are\n   you?</div>"
            '<p>See <a href="https://x.example">our site</a> or '
            '<a href="https://y.example">https://y.example</a> or '
            '<a href="mailto:rep@x.example">rep@x.example</a>.</p>'
            "<p></p><p></p>"
            "<ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"
            '<div class="gmail_quote"><div class="gmail_attr">On Thu, Bob wrote:<br></div>'
            "<blockquote><p>Tom &amp; Jerry &lt;3</p><p>second</p>"
            "<blockquote>deeper</blockquote></blockquote></div>"
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
            "<script>ignored()</script><style>p {}</style>",
            "Hi Ann,\n"
            "how are you?\n"
            "\n"
            "See our site (https://x.example) or https://y.example or rep@x.example.\n"
            "\n"
            "- one\n"
            "- two\n"
            "\n"
            "1. first\n"
            "2. second\n"
            "\n"
            "On Thu, Bob wrote:\n"
            "\n"
            "> Tom & Jerry <3\n"
            ">\n"
            "> second\n"
            ">\n"
            "> > deeper\n"
            "\n"
            "a b\n"
            "c d",
        ),
        ("  <p>  </p> plain  ", "plain"),
        ("", ""),
    ],
)
def test_html_to_text(body: str, expected: str) -> None:
    assert html_to_text(body) == expected


# --------------------------------------------------------------------------------------------
# quote_previous, reply_subject


@pytest.mark.parametrize(
    ("sent_at", "tz", "attribution"),
    [
        # The case: sent at 08:34 UTC, shown in the rep's zone with their address.
        (datetime(2026, 3, 3, 8, 34, tzinfo=UTC), "Europe/Paris",
         "On Tue, 3 Mar 2026 at 09:34, Ann Rep &lt;ann@x.example&gt; wrote:"),
        (datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("America/New_York")), "America/New_York",
         "On Thu, 26 Nov 2026 at 09:30, Ann Rep &lt;ann@x.example&gt; wrote:"),
        (datetime(2026, 3, 1, 0, 5, tzinfo=UTC), "UTC",
         "On Sun, 1 Mar 2026 at 00:05, Ann Rep &lt;ann@x.example&gt; wrote:"),
        # Whatever zone the instant carries, the rep's zone decides the day shown.
        (datetime(2026, 7, 4, 23, 59, tzinfo=timezone(timedelta(hours=2))), "Asia/Tokyo",
         "On Sun, 5 Jul 2026 at 06:59, Ann Rep &lt;ann@x.example&gt; wrote:"),
    ],
)
def test_quote_previous(sent_at: datetime, tz: str, attribution: str) -> None:
    quoted = quote_previous(
        "<p>Bumping this.</p>", "<p>Hi Bob &amp; co</p>", sent_at, tz, "Ann Rep", "ann@x.example"
    )
    assert quoted == (
        "<p>Bumping this.</p>"
        '<div class="gmail_quote"><div class="gmail_attr">'
        f"{attribution}<br></div>"
        '<blockquote class="gmail_quote" '
        'style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">'
        "<p>Hi Bob &amp; co</p></blockquote></div>"
    )


def test_quote_previous_without_a_name_shows_the_address() -> None:
    quoted = quote_previous("", "", datetime(2026, 3, 3, 8, 34, tzinfo=UTC), "UTC", "",
                            "ann@x.example")
    assert "On Tue, 3 Mar 2026 at 08:34, ann@x.example wrote:" in quoted


def test_quote_previous_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        quote_previous("", "", datetime(2026, 11, 26, 9, 30), "UTC", "A", "a@x.example")


def test_quote_previous_survives_sanitising() -> None:
    quoted = quote_previous("<p>New</p>", "<p>Old</p>", datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
                            "UTC", "A", "a@x.example")
    # nh3 re-serialises the style (".8ex" becomes "0.8ex"); the structure and classes stay.
    assert sanitize_html(quoted) == (
        '<p>New</p><div class="gmail_quote"><div class="gmail_attr">'
        "On Fri, 2 Jan 2026 at 03:04, A &lt;a@x.example&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" '
        'style="margin:0 0 0 0.8ex;border-left:1px #ccc solid;padding-left:1ex">'
        "<p>Old</p></blockquote></div>"
    )


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        ("Quick question", "Re: Quick question"),
        ("Re: Quick question", "Re: Quick question"),
        ("RE: Quick question", "Re: Quick question"),
        ("re : Quick question", "Re: Quick question"),
        ("Re: RE: re:Quick question", "Re: Quick question"),
        ("  Re:Re:  Quick question  ", "Re: Quick question"),
        ("Quick\r\n question\nabout Re: x", "Re: Quick question about Re: x"),
        ("Regarding your team", "Re: Regarding your team"),
        ("Re:", "Re:"),
        ("", "Re:"),
    ],
)
def test_reply_subject(previous: str, expected: str) -> None:
    assert reply_subject(previous) == expected


@pytest.mark.parametrize("value", ["javascript:alert(1)", " JavaScript:alert(1)",
                                   "data:text/html,<script>alert(1)</script>",
                                   "vbscript:msgbox(1)"])
def test_a_merge_value_cannot_make_a_link_of_a_refused_scheme(value: str) -> None:
    body = sanitize_html('<a href="{{first_name}}">hi</a><img src="{{company}}">')
    out = render(body, {"first_name": value, "company": value}, html=True, keep_prompts=False)
    assert "script" not in out.lower() and "data:" not in out
    assert render(body, {"first_name": "https://ok.test/a?b=1&c=2", "company": "cid:logo"},
                  html=True, keep_prompts=False) == (
        '<a href="https://ok.test/a?b=1&amp;c=2">hi</a><img src="cid:logo">')
