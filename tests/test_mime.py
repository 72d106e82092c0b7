from __future__ import annotations

import email
import email.policy

from addin_server.mailboxes.base import SEND_ID_HEADER, OutgoingMessage
from addin_server.mailboxes.mime import build_mime


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
