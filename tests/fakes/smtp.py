"""A tiny SMTP server on 127.0.0.1 that keeps what it receives (no TLS, no auth): enough for
smtplib's EHLO / MAIL / RCPT / DATA / QUIT."""

from __future__ import annotations

import socketserver
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from tests.fakes.mail import parse
from tests.fakes.server import in_thread


@dataclass
class SmtpFake:
    url: str = ""
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False  # answer 421 to every connection (the relay is down)


def _handler(fake: SmtpFake) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write((line + "\r\n").encode())

        def handle(self) -> None:
            if fake.refuse:
                self.reply("421 service not available")
                return
            self.reply("220 fake ESMTP")
            while True:
                line = self.rfile.readline().decode(errors="replace").strip()
                verb = line[:4].upper()
                if not line or verb == "QUIT":
                    self.reply("221 bye")
                    return
                if verb in ("EHLO", "HELO"):
                    self.reply("250 fake")
                elif verb == "DATA":
                    self.reply("354 go on")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    fake.messages.append(parse(data))
                    self.reply("250 queued")
                else:  # MAIL, RCPT, RSET, NOOP
                    self.reply("250 ok")

    return Handler


@contextmanager
def serve_smtp() -> Iterator[SmtpFake]:
    fake = SmtpFake()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"smtp://127.0.0.1:{server.server_address[1]}"
    with in_thread(server):
        yield fake
