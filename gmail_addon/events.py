"""The event object Google POSTs to every add-on endpoint, read into one typed value.

Missing parts are normal (no `userLocale` without the locale scope, no message on the
homepage, no `accessToken` on some clicks), so every field has an empty default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

MAX_ID = 2**31 - 1  # the service's ids (addin_server.validation.MAX_ID: not imported here)


@dataclass(frozen=True)
class AddonEvent:
    parameters: dict[str, str] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)
    datetimes: dict[str, datetime] = field(default_factory=dict)
    message_id: str = ""  # hex Gmail API id (normalised)
    thread_id: str = ""
    access_token: str = ""  # gmail.accessToken: per-message token (X-Goog-Gmail-Access-Token)
    user_oauth_token: str = ""
    user_id_token: str = ""
    authorized_scopes: tuple[str, ...] | None = None  # None: Google did not say
    to_recipients: tuple[str, ...] = ()
    time_zone: str = ""
    locale: str = ""

    def param(self, key: str) -> str:
        return self.parameters.get(key, "")

    def int_param(self, key: str) -> int | None:
        value = self.parameters.get(key, "")
        # Ids of the service's rows fit PostgreSQL's INTEGER; a larger one names nothing.
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            return None
        number = int(value)
        return number if 1 <= number <= MAX_ID else None

    def form_value(self, name: str) -> str:
        values = self.form.get(name) or [""]
        return values[0]


_PREFIXED = re.compile(r"^(?:msg|thread)-[af]:(\d{1,25})$")
_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")


def normalise_id(raw: Any) -> str:
    """Gmail ids in events may be `msg-f:<decimal>` / `thread-f:<decimal>`; the Gmail API (and
    `draftThreadId`) want the same number in hex. Anything else is dropped."""
    if not isinstance(raw, str):
        return ""
    raw = raw.strip()
    m = _PREFIXED.match(raw)
    if m:
        return format(int(m.group(1)), "x")
    return raw.lower() if _HEX.match(raw) else ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _form(inputs: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, datetime]]:
    strings: dict[str, list[str]] = {}
    moments: dict[str, datetime] = {}
    for name, raw in inputs.items():
        raw = _dict(raw)
        values = _dict(raw.get("stringInputs")).get("value")
        if isinstance(values, list):
            strings[str(name)] = [v for v in values if isinstance(v, str)]
        dt = _dict(raw.get("dateTimeInput")) or _dict(raw.get("dateInput"))
        ms = dt.get("msSinceEpoch")
        if isinstance(ms, (int, str)) and str(ms).lstrip("-").isdigit():
            moments[str(name)] = datetime.fromtimestamp(int(ms) / 1000, UTC)
    return strings, moments


def _addresses(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    found = getaddresses([v for v in values if isinstance(v, str)])
    return tuple(addr.lower() for _name, addr in found if "@" in addr)


def parse_event(data: Any) -> AddonEvent:
    data = _dict(data)
    common = _dict(data.get("commonEventObject"))
    auth = _dict(data.get("authorizationEventObject"))
    gmail = _dict(data.get("gmail"))
    params = {str(k): v for k, v in _dict(common.get("parameters")).items()
              if isinstance(v, str)}
    strings, moments = _form(_dict(common.get("formInputs")))
    scopes = auth.get("authorizedScopes")
    return AddonEvent(
        parameters=params,
        form=strings,
        datetimes=moments,
        message_id=normalise_id(gmail.get("messageId")),
        thread_id=normalise_id(gmail.get("threadId")),
        access_token=_str(gmail.get("accessToken")),
        user_oauth_token=_str(auth.get("userOAuthToken")),
        user_id_token=_str(auth.get("userIdToken")),
        authorized_scopes=tuple(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list) else None,
        to_recipients=_addresses(gmail.get("toRecipients")),
        time_zone=_str(_dict(common.get("timeZone")).get("id")),
        locale=_str(common.get("userLocale")),
    )
