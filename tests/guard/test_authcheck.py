"""The sender authentication check against a fake DNS (tests/fakes/dns.py), never the network:
what is missing or misaligned, and how to fix it."""

from __future__ import annotations

from typing import Any

from addin_server.guard.authcheck import check_domain
from tests.fakes.dns import txt


def _by_check(domain: str, provider: str, selectors: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.check: f for f in check_domain(domain, provider, txt, selectors)}


def test_a_well_set_up_workspace_domain_passes() -> None:
    found = _by_check("good.test", "gmail")
    assert all(f.ok for f in found.values())
    assert found["DMARC"].message == "DMARC policy p=quarantine"


def test_missing_and_misaligned_records_say_how_to_fix_them() -> None:
    found = _by_check("acme.test", "microsoft")
    assert not found["SPF"].ok and "does not include spf.protection.outlook.com" in \
        found["SPF"].message
    assert not found["DKIM"].ok and "selector1._domainkey.acme.test" in found["DKIM"].message
    assert "Microsoft Defender" in found["DKIM"].message
    assert not found["DMARC"].ok and "v=DMARC1; p=none" in found["DMARC"].message


def test_nothing_published_and_named_selectors() -> None:
    found = _by_check("empty.test", "gmail", ("s2026",))
    assert "no SPF record on empty.test" in found["SPF"].message
    assert "s2026._domainkey.empty.test" in found["DKIM"].message
    assert "google._domainkey" not in found["DKIM"].message


def test_two_spf_records_and_plus_all_are_errors() -> None:
    records = {"two.test": ["v=spf1 include:_spf.google.com ~all", "v=spf1 -all"],
               "open.test": ["v=spf1 include:_spf.google.com +all"],
               "_dmarc.open.test": ["v=DMARC1; rua=mailto:x@open.test"]}
    lookup = lambda name: records.get(name, [])  # noqa: E731
    assert "2 SPF records" in check_domain("two.test", "gmail", lookup)[0].message
    open_ = check_domain("open.test", "gmail", lookup)
    assert "+all" in open_[0].message
    assert "no valid p= policy" in open_[2].message
