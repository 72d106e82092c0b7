"""When the bounce breakers trip: the pure rules, at the issue's default thresholds."""

from __future__ import annotations

from addin_server.guard.breakers import status_code
from addin_server.guard.rules import Thresholds, Window, campaign_trip, domain_trip, mailbox_trip

T = Thresholds()


def test_mailbox_trips_at_three_of_its_last_twenty() -> None:
    assert mailbox_trip(T, Window(20, 2), Window(60, 2)) is None
    why = mailbox_trip(T, Window(20, 3), Window(60, 3))
    assert why is not None and "3 hard bounces in its last 20 emails" in why
    # three bounces are their own minimum sample: three out of five trips too
    assert mailbox_trip(T, Window(5, 3), Window(5, 3)) is not None


def test_mailbox_rate_needs_a_full_window_of_a_hundred() -> None:
    assert mailbox_trip(T, Window(20, 1), Window(99, 5)) is None  # sample too small
    assert mailbox_trip(T, Window(20, 1), Window(100, 4)) is None  # 4%
    why = mailbox_trip(T, Window(20, 1), Window(100, 5))
    assert why is not None and "5.0%" in why and "limit 5%" in why


def test_campaign_trips_at_eight_percent_after_fifty_first_emails() -> None:
    assert campaign_trip(T, Window(49, 10)) is None
    assert campaign_trip(T, Window(50, 3)) is None
    why = campaign_trip(T, Window(50, 4))
    assert why is not None and "4 of its 50 first emails bounced" in why


def test_domain_trips_at_three_percent_once_the_sample_is_reached() -> None:
    assert domain_trip(T, "acme.test", Window(99, 50)) is None
    assert domain_trip(T, "acme.test", Window(200, 5)) is None
    why = domain_trip(T, "acme.test", Window(200, 6))
    assert why is not None and why.startswith("domain acme.test:") and "24 h" in why


def test_thresholds_are_settings() -> None:
    t = Thresholds(mailbox_burst=0, mailbox_window=10, mailbox_rate=0.2)
    assert mailbox_trip(t, Window(10, 2), Window(10, 2)) is not None
    assert mailbox_trip(t, Window(10, 1), Window(10, 1)) is None


def test_status_code_is_read_from_the_providers_text() -> None:
    assert status_code("550 5.1.1 The email account that you tried to reach does not exist") \
        == "5.1.1"
    assert status_code("Recipient address rejected") == ""
