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
            cooloff_hours=s.guard_cooloff_hours, cooloff_cap=s.guard_cooloff_cap)


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
