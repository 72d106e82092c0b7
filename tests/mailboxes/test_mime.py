from __future__ import annotations

import email
import email.policy

from addin_server.mailboxes.mime import build_mime
from addin_server.mailboxes.port import SEND_ID_HEADER, OutgoingMessage


def test_reply_carries_the_whole_chain_and_both_parts() -> None:
    out = OutgoingMessage(
        send_id="42", from_addr="ann@acme.test", from_name="Ann Smith", to_addr="zoe@corp.test",
        subject="Re: Hello", html="<p>Again</p>", text="Again",
        in_reply_to="<b@acme.test>", references="<a@acme.test>",
    )
    raw = build_mime(out, message_id="<c@acme.test>").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] == "<c@acme.test>"
    assert parsed["In-Reply-To"] == "<b@acme.test>"
    assert parsed["References"] == "<a@acme.test> <b@acme.test>"
    assert parsed[SEND_ID_HEADER] == "42"
    assert parsed["From"] == "Ann Smith <ann@acme.test>"
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert b"\r\n" in raw  # SMTP policy: CRLF line ends


def test_list_unsubscribe_stays_a_readable_url_on_the_wire() -> None:
    """Mail clients read List-Unsubscribe as it is on the wire: a URL longer than 78 characters
    must not be folded into an RFC 2047 encoded word (the parsed header would hide that)."""
    url = "https://campaigns.example.test/u/" + "WzEsInAxLWFiY0Bjb3JwLnRlc3QiXQ" * 3
    mailto = "mailto:ann@acme.test?subject=unsubscribe%20" + "x" * 60
    out = OutgoingMessage(
        send_id="7", from_addr="ann@acme.test", from_name="Ann Smith", to_addr="zoe@corp.test",
        subject="Hello Zoé", html="<p>Hi</p>", text="Hi",
        extra_headers=[("List-Unsubscribe", f"<{url}>, <{mailto}>"),
                       ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")],
    )
    raw = build_mime(out).as_bytes()
    assert f"List-Unsubscribe: <{url}>, <{mailto}>\r\n".encode() in raw
    assert b"=?utf-8?q?=3Chttps" not in raw
    # Text that needs it is still encoded.
    assert b"Subject: Hello =?utf-8?q?Zo=C3=A9?=\r\n" in raw
