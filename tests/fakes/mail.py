"""What a recipient sees, shared by both fakes: delivered messages as parsed RFC 5322 emails, and
threads grouped the way a mail client groups them (Message-ID / In-Reply-To / References)."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

_ID_RE = re.compile(r"<[^<>\s]+>")
_RE_PREFIX = re.compile(r"\A\s*(?:re|aw|sv)\s*:\s*", re.I)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def msg_ids(value: str | None) -> list[str]:
    return _ID_RE.findall(value or "")


def base_subject(subject: str) -> str:
    s = subject or ""
    while True:
        stripped = _RE_PREFIX.sub("", s)
        if stripped == s:
            return s.strip().lower()
        s = stripped


@dataclass
class Delivered:
    """One email as it arrived in a mailbox."""

    message: EmailMessage

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else " ".join(str(value).split())  # unfolded

    @property
    def subject(self) -> str:
        return self.header("Subject") or ""

    @property
    def message_id(self) -> str:
        return self.header("Message-ID") or ""

    @property
    def in_reply_to(self) -> str | None:
        return self.header("In-Reply-To")

    @property
    def references(self) -> list[str]:
        return msg_ids(self.header("References"))

    @property
    def from_addr(self) -> str:
        return email.utils.parseaddr(self.header("From") or "")[1]

    @property
    def to_addrs(self) -> list[str]:
        return [a for _, a in email.utils.getaddresses([self.header("To") or ""])]

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return "" if part is None else str(part.get_content())  # type: ignore[attr-defined]

    @property
    def html(self) -> str:
        return self._part("html")

    @property
    def text(self) -> str:
        return self._part("plain")


@dataclass
class RecipientView:
    """A person's mailbox as their mail client shows it."""

    address: str
    messages: list[Delivered] = field(default_factory=list)

    def threads(self) -> list[list[Delivered]]:
        """Messages grouped into conversations by their Message-ID chains, oldest first."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for m in self.messages:
            own = m.message_id or f"<no-id-{id(m)}>"
            for other in [*m.references, *msg_ids(m.in_reply_to)]:
                parent[find(other)] = find(own)
            find(own)
        groups: dict[str, list[Delivered]] = {}
        for m in self.messages:
            groups.setdefault(find(m.message_id or f"<no-id-{id(m)}>"), []).append(m)
        return list(groups.values())
