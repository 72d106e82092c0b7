"""When a breaker trips: pure functions of counts and thresholds (no database, no clock)."""

from __future__ import annotations

from dataclasses import dataclass

from addin_server.config import Settings


@dataclass(frozen=True)
class Thresholds:
    """The breakers' settings (config.Settings `guard_*`; docs/deliverability.md)."""

    mailbox_rate: float = 0.05
    mailbox_window: int = 100
    mailbox_burst: int = 3
    mailbox_burst_window: int = 20
    campaign_rate: float = 0.08
    campaign_min_sample: int = 50
    domain_rate: float = 0.03
    domain_hours: float = 24.0
    domain_min_sample: int = 100
    cooloff_hours: float = 0.0
    cooloff_cap: int = 20
    burst_count: int = 5
    burst_minutes: float = 10.0

    @classmethod
    def from_settings(cls, s: Settings) -> Thresholds:
        return cls(
            mailbox_rate=s.guard_mailbox_rate, mailbox_window=s.guard_mailbox_window,
            mailbox_burst=s.guard_mailbox_burst,
            mailbox_burst_window=s.guard_mailbox_burst_window,
            campaign_rate=s.guard_campaign_rate,
            campaign_min_sample=s.guard_campaign_min_sample,
            domain_rate=s.guard_domain_rate, domain_hours=s.guard_domain_hours,
            domain_min_sample=s.guard_domain_min_sample,
            cooloff_hours=s.guard_cooloff_hours, cooloff_cap=s.guard_cooloff_cap,
            burst_count=s.guard_burst_count, burst_minutes=s.guard_burst_minutes)


@dataclass(frozen=True)
class Window:
    """Bounces among a number of sends (the sample)."""

    sends: int
    bounces: int


def _pct(rate: float) -> str:
    return f"{rate * 100:g}%"


def mailbox_trip(t: Thresholds, burst: Window, long: Window) -> str | None:
    """The mailbox's reason to pause, or None. `burst` is its last `mailbox_burst_window`
    sends, `long` its last `mailbox_window`. The rate needs a full window (the minimum sample);
    the burst rule is a count, so it is its own minimum."""
    if t.mailbox_burst > 0 and burst.bounces >= t.mailbox_burst:
        return (f"{burst.bounces} hard bounces in its last {burst.sends} emails "
                f"(limit {t.mailbox_burst} in {t.mailbox_burst_window})")
    if long.sends >= t.mailbox_window and long.bounces >= t.mailbox_rate * long.sends - 1e-9:
        return (f"{long.bounces} hard bounces in its last {long.sends} emails "
                f"({long.bounces / long.sends:.1%}, limit {_pct(t.mailbox_rate)})")
    return None


def campaign_trip(t: Thresholds, first_emails: Window) -> str | None:
    """The campaign's reason to stop starting people, or None (after the minimum sample)."""
    w = first_emails
    if w.sends >= t.campaign_min_sample and w.bounces >= t.campaign_rate * w.sends - 1e-9:
        return (f"{w.bounces} of its {w.sends} first emails bounced "
                f"({w.bounces / w.sends:.1%}, limit {_pct(t.campaign_rate)})")
    return None


def domain_trip(t: Thresholds, domain: str, w: Window) -> str | None:
    """The sending domain's reason to pause all its mailboxes, or None."""
    if w.sends >= t.domain_min_sample and w.bounces >= t.domain_rate * w.sends - 1e-9:
        return (f"domain {domain}: {w.bounces} hard bounces in {w.sends} emails over "
                f"{t.domain_hours:g} h across the organisation's mailboxes "
                f"({w.bounces / w.sends:.1%}, limit {_pct(t.domain_rate)})")
    return None


# --- Provider hard stops --------------------------------------------------------------------

SENDING_LIMIT, RESTRICTED_SENDER, AUTHENTICATION = "sending_limit", "restricted_sender", \
    "authentication"


@dataclass(frozen=True)
class HardStop:
    """A provider's answer about the sender, not the recipient: never a bounce of the person."""

    kind: str  # SENDING_LIMIT | RESTRICTED_SENDER | AUTHENTICATION
    code: str
    fix: str  # what to do, in words


# Enhanced status code -> (kind, what to fix). docs/deliverability.md has the table.
_CODES: dict[str, tuple[str, str]] = {
    "5.4.5": (SENDING_LIMIT, "the mailbox passed its provider's daily sending limit: it waits "
                             "until the provider lets it send again, at a lower daily cap"),
    "5.1.8": (RESTRICTED_SENDER, "Microsoft put the mailbox on its restricted senders list: an "
                                 "Exchange admin must release it (Microsoft Defender portal, "
                                 "Restricted entities), then release it here"),
    "5.7.515": (AUTHENTICATION, "Outlook.com refuses high-volume mail without SPF, DKIM and "
                                "DMARC: publish an SPF record and DKIM signing that pass, and a "
                                "DMARC record (at least p=none) aligned with the From domain"),
    "5.7.26": (AUTHENTICATION, "the message failed authentication (DMARC, SPF or DKIM): sign it "
                               "with DKIM for the From domain, include the provider in SPF, and "
                               "check the domain's DMARC record"),
    "4.7.32": (AUTHENTICATION, "the From domain is aligned with neither the SPF nor the DKIM "
                               "domain: sign with DKIM d=<the From domain> (or align SPF)"),
}
# When a provider names the stop without a code.
_TEXTS: tuple[tuple[str, str], ...] = (
    ("daily user sending limit exceeded", "5.4.5"),
    ("daily sending quota exceeded", "5.4.5"),
    ("bad outbound sender", "5.1.8"),
    # Gmail API: "User-rate limit exceeded.  Retry after <time> (Mail sending)"
    ("(mail sending)", "5.4.5"),
)


def hard_stop(status: str, text: str) -> HardStop | None:
    """The provider hard stop a status code (or text) names, or None."""
    code = status.strip()
    if code not in _CODES:
        lowered = text.lower()
        code = next((c for phrase, c in _TEXTS if phrase in lowered), code)
        if code not in _CODES:
            code = next((c for c in _CODES if c in text), "")
    if not code:
        return None
    kind, fix = _CODES[code]
    return HardStop(kind, code, fix)


def is_temporary(status: str) -> bool:
    """A 4.x.x: greylisting or a temporary failure, retried by the sender, never a bounce."""
    return status.startswith("4.")


def lowered_cap(cap: int | None, default: int) -> int:
    """The daily cap after a provider's sending limit: half of what it was, at least 1."""
    return max(1, (cap or default) // 2)
