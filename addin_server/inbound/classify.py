"""What an inbound email is: a human reply, an automatic reply (out of office or other), or a
bounce. Pure functions on stdlib `email` messages; no database, no clock.

The rules, strongest signal first:
- bounce: a DSN (`multipart/report; report-type=delivery-status`, RFC 3464) whose action is
  `failed`, or a message from mailer-daemon / postmaster with a typical subject (non-standard
  bounces). The failed recipient comes from the DSN's Final-Recipient / Original-Recipient,
  else `X-Failed-Recipients`, else the returned headers' `To`, else the addresses in the text.
  A DSN whose action is only `delayed` is an automatic message, not a bounce.
- automatic reply: `Auto-Submitted` other than `no` (RFC 3834), `X-Autoreply`, `X-Autorespond`,
  `Precedence: auto_reply | bulk | junk | list`, `X-Auto-Response-Suppress` together with an
  automatic-reply subject, or a typical automatic-reply subject in several languages. Among
  them, out of office when the subject or text says so; then a return date when one is written.
- anything else is a human reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum

from flufl.bounce import all_failures

from addin_server.inbound.return_dates import return_date

SEND_ID_HEADER = "X-Campaign-Send-Id"  # mirrors mailboxes.base (kept import-free: pure module)


class Kind(StrEnum):
    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class Classification:
    kind: Kind
    why: str  # which signal decided, for the Live Feed and for debugging
    failed_recipients: tuple[str, ...] = ()  # bounces: lower case addresses
    # Bounces: the returned message's ids, when the DSN carries its headers.
    original_message_id: str | None = None
    original_send_id: str | None = None
    return_date: date | None = None  # out of office: the first day the person is back
    # Bounces: the DSN's enhanced status code (RFC 3463, e.g. "5.1.1") and diagnostic text, when
    # it names them (what the deliverability guard maps to actions).
    status: str = ""
    diagnostic: str = ""


# --- helpers -----------------------------------------------------------------------------------

# Bounce senders: the classic daemons, and Exchange's NDR sender
# (`Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@tenant>`).
_DAEMON = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|microsoftexchange[0-9a-f]{32})@",
    re.I)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliverable|undelivered mail|delivery status notification \((failure|delay)\)|"
    r"mail delivery (failed|failure|subsystem)|returned mail|delivery (has )?failed|"
    r"failure notice|non[- ]?remis|unzustellbar|no se puede entregar|non recapitabile|"
    r"onbestelbaar|address not found)",
    re.I,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|auto:|"
    r"out of (the )?office|away from (the )?office|on (vacation|holiday|leave)|"
    r"r[ée]ponse automatique|(absence|absent|abwesenheit|ooo)\s*(?:[:\-–]|$)|"
    r"automatische antwort|"
    r"abwesenheitsnotiz|respuesta autom[aá]tica|fuera de la oficina|ausente|"
    r"risposta automatica|fuori ufficio|automatisch antwoord|afwezig|niet aanwezig|"
    r"resposta autom[aá]tica|fora do escrit[oó]rio|autosvar|fr[aå]nv(aro|ærende)|"
    r"automaattinen vastaus|poza biurem|odpowied[zź] automatyczna)",
    re.I,
)
_OOO_WORDS = re.compile(
    r"(out of (the )?office|\booo\b|away from (the|my) (office|desk)|on (annual )?leave|"
    r"on (vacation|holiday)|parental leave|maternity leave|r[ée]ponse automatique|absent|"
    r"absence|cong[ée]s?|abwesend|abwesenheit|urlaub|nicht im b[üu]ro|ausente|vacaciones|"
    r"fuera de la oficina|fuori ufficio|in ferie|assente|afwezig|vakantie|niet aanwezig|"
    r"f[ée]rias|fora do escrit[oó]rio|ledig|semester|fr[aå]nvarande|lomalla|urlop)",
    re.I,
)


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return str(value).strip() if value is not None else ""


def addresses(msg: Message, name: str) -> list[str]:
    """The addresses of an address header, lower case."""
    values = [str(v) for v in msg.get_all(name, [])]
    return [addr.lower() for _, addr in getaddresses(values) if "@" in addr]


def sender(msg: Message) -> str:
    found = addresses(msg, "From")
    return found[0] if found else ""


def message_ids(value: str) -> list[str]:
    """`<a@b> <c@d>` (In-Reply-To, References) as a list, angle brackets kept."""
    return re.findall(r"<[^<>\s]+>", value or "")


def text_of(msg: Message, limit: int = 20_000) -> str:
    """The readable text of a message: text/plain parts, else text/html without tags. Attached
    messages (a bounce's returned copy) are left out; only the first `limit` characters."""
    plain: list[str] = []
    html: list[str] = []
    for part in _parts(msg):
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        if part.get_content_disposition() == "attachment":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            content = payload.decode(charset, errors="replace")
        except LookupError:
            content = payload.decode("utf-8", errors="replace")
        (plain if ctype == "text/plain" else html).append(content)
    if plain:
        out = "\n".join(plain)
    else:
        out = re.sub(r"<[^>]+>", " ", "\n".join(html))
        out = re.sub(r"&nbsp;", " ", out)
    return out[:limit]


def _parts(msg: Message) -> list[Message]:
    """The leaf parts, not descending into attached messages (message/*)."""
    if msg.is_multipart():
        if msg.get_content_maintype() == "message":
            return []
        out: list[Message] = []
        payload = msg.get_payload()
        assert isinstance(payload, list)
        for sub in payload:
            if isinstance(sub, Message):
                out.extend(_parts(sub))
        return out
    return [msg]


def _find_parts(msg: Message, ctype: str) -> list[Message]:
    return [part for part in msg.walk() if part.get_content_type() == ctype]


# --- bounces -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dsn:
    recipients: tuple[str, ...]
    actions: tuple[str, ...]


def _dsn(msg: Message) -> _Dsn | None:
    """Recipients and actions of the message/delivery-status part, if there is one."""
    parts = _find_parts(msg, "message/delivery-status")
    if not parts:
        return None
    recipients: list[str] = []
    actions: list[str] = []
    for part in parts:
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            # Some senders put the fields in a single text payload: read it as header blocks.
            from email import message_from_string

            text = str(blocks)
            blocks = [message_from_string(chunk) for chunk in re.split(r"\n\s*\n", text)]
        for block in blocks:
            if not isinstance(block, Message):
                continue
            action = _header(block, "Action").lower()
            recipient = _dsn_address(_header(block, "Final-Recipient")) or _dsn_address(
                _header(block, "Original-Recipient"))
            if recipient:
                recipients.append(recipient)
                actions.append(action or "failed")
    return _Dsn(tuple(recipients), tuple(actions))


def _dsn_address(value: str) -> str | None:
    """`rfc822; user@example.com` -> `user@example.com`."""
    if not value:
        return None
    _, _, address = value.partition(";")
    address = (address or value).strip().strip("<>").lower()
    return address if "@" in address else None


def _returned_headers(msg: Message) -> Message | None:
    """The returned message's headers: a message/rfc822 or text/rfc822-headers part."""
    from email import message_from_string

    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                inner = payload[0]
                assert isinstance(inner, Message)
                return inner
        if ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return message_from_string(raw.decode("utf-8", errors="replace"))
    return None


_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _text_recipients(text: str, exclude: set[str]) -> list[str]:
    """Addresses named in a non-standard bounce's text, daemon and known parties left out."""
    found: list[str] = []
    for match in _ADDRESS.finditer(text):
        addr = match.group(0).strip(".").lower()
        if addr in exclude or _DAEMON.match(addr) or addr in found:
            continue
        found.append(addr)
    return found


def _detected(msg: Message) -> tuple[str, ...]:
    """The permanent failures flufl.bounce finds, lower case and sorted; () when none."""
    try:
        _temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on a malformed report: ours still read it
        return ()
    found = {a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
             for a in permanent}
    return tuple(sorted(a.strip("<>").lower() for a in found if "@" in a))


def _bounce(msg: Message) -> Classification | None:
    ctype = msg.get_content_type()
    report = ctype == "multipart/report" and str(
        msg.get_param("report-type") or "").lower() == "delivery-status"
    dsn = _dsn(msg)
    from_daemon = bool(_DAEMON.match(sender(msg)))
    subject = _header(msg, "Subject")
    if not report and dsn is None and not (
            from_daemon and (_BOUNCE_SUBJECT.search(subject) or _find_parts(msg, "message/rfc822"))
    ) and not _header(msg, "X-Failed-Recipients"):
        return None
    returned = _returned_headers(msg)
    original_id = message_ids(_header(returned, "Message-ID")) if returned else []
    send_id = _header(returned, SEND_ID_HEADER) if returned else ""
    if dsn is not None and dsn.recipients and all(a in ("delayed", "relayed", "delivered",
                                                         "expanded") for a in dsn.actions):
        return Classification(Kind.AUTO_REPLY, f"delivery report ({', '.join(dsn.actions)})")
    detected = _detected(msg)
    if detected:
        # Mailman's detectors (flufl.bounce) know dozens of MTA formats; ours below cover what
        # they miss (a metadata-only message, a returned message's To).
        failed, why = detected, "flufl.bounce (Mailman's detectors)"
    elif dsn is not None and dsn.recipients:
        failed = tuple(r for r, a in zip(dsn.recipients, dsn.actions, strict=True)
                       if a == "failed")
        why = "DSN (multipart/report, delivery-status)"
    else:
        failed = tuple(a.lower() for a in addresses(msg, "X-Failed-Recipients"))
        why = "X-Failed-Recipients header"
        if not failed and returned is not None:
            failed = tuple(addresses(returned, "To"))
            why = "non-standard bounce: the returned message's To"
        if not failed:
            exclude = set(addresses(msg, "To")) | {sender(msg)}
            failed = tuple(_text_recipients(text_of(msg), exclude)[:1])
            why = "non-standard bounce: address in the text"
    status, diagnostic = dsn_status(msg)
    return Classification(
        Kind.BOUNCE, why, failed_recipients=failed,
        original_message_id=original_id[0] if original_id else None,
        original_send_id=send_id or None, status=status, diagnostic=diagnostic,
    )


_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def dsn_status(msg: Message) -> tuple[str, str]:
    """The first failed recipient's `Status` and `Diagnostic-Code` (RFC 3464); without a
    delivery-status part, the first status code in the text and its line."""
    for part in _find_parts(msg, "message/delivery-status"):
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            status = _header(block, "Status")
            if status and not status.startswith("2"):
                diagnostic = _header(block, "Diagnostic-Code")
                return status.split()[0], diagnostic.partition(";")[2].strip() or diagnostic
    for line in text_of(msg).splitlines():
        found = _STATUS.search(line)
        if found:
            return found.group(1), line.strip()[:500]
    return "", ""


# --- automatic replies ---------------------------------------------------------------------------


def _auto_signal(msg: Message) -> str | None:
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(msg, name):
            return f"{name} header"
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if _AUTO_SUBJECT.search(_header(msg, "Subject")):
        return "automatic-reply subject"
    return None


def classify(msg: Message) -> Classification:
    """Human reply, automatic reply, out of office (with a return date when written) or bounce."""
    bounce = _bounce(msg)
    if bounce is not None:
        return bounce
    signal = _auto_signal(msg)
    if signal is None:
        return Classification(Kind.HUMAN, "no automatic-message signal")
    subject = _header(msg, "Subject")
    text = text_of(msg)
    # Only the part above any quote says what this message is about.
    own = _strip_quote(text)
    if _OOO_WORDS.search(subject) or _OOO_WORDS.search(own[:3000]):
        sent = received_date(msg)
        return Classification(Kind.OUT_OF_OFFICE, signal,
                              return_date=return_date(subject + "\n" + own, sent))
    return Classification(Kind.AUTO_REPLY, signal)


def own_text(msg: Message) -> str:
    """The message's own words: its text above any quoted earlier message, spaces squeezed."""
    return " ".join(_strip_quote(text_of(msg)).split())


def _strip_quote(text: str) -> str:
    cut = re.search(r"(^>|^-{2,}\s*original message|^on .{0,200} wrote:|^le .{0,200} a écrit)",
                    text, re.I | re.M)
    return text[: cut.start()] if cut else text


def received_date(msg: Message) -> date | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None
