"""Sender authentication check: a sending domain's SPF, DKIM and DMARC records, read with
dnspython, with what is missing or misaligned and how to fix it (the Mailboxes page shows it).

`check_domain` is pure given a TXT lookup (`Txt`: name -> the TXT strings, [] when none), so
tests pass a fake; `dns_txt` is the real lookup. DNS_TXT_RESOLVER ("module:function") names
another lookup, as tests do: they never touch the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.resolver

from addin_server.config import Settings

Txt = Callable[[str], list[str]]

# The provider's SPF include and DKIM selectors when the admin names none.
SPF_INCLUDE = {"gmail": "_spf.google.com", "microsoft": "spf.protection.outlook.com"}
DKIM_SELECTORS = {"gmail": ("google",), "microsoft": ("selector1", "selector2")}


@dataclass(frozen=True)
class Finding:
    check: str  # "SPF" | "DKIM" | "DMARC"
    ok: bool
    message: str


def dns_txt(name: str) -> list[str]:
    """The TXT strings at `name` (a CNAME is followed), [] when there are none."""
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=3.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
            dns.exception.Timeout):
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def resolver(settings: Settings) -> Txt:
    if not settings.dns_txt_resolver:
        return dns_txt
    module, _, name = settings.dns_txt_resolver.partition(":")
    found: Txt = getattr(importlib.import_module(module), name)
    return found


def _spf(domain: str, provider: str, txt: Txt) -> Finding:
    records = [r for r in txt(domain) if r.lower().startswith("v=spf1")]
    include = SPF_INCLUDE.get(provider, "")
    if not records:
        return Finding("SPF", False, f"no SPF record on {domain}: publish TXT \"v=spf1 "
                       f"include:{include or '<your provider>'} ~all\"")
    if len(records) > 1:
        return Finding("SPF", False, f"{len(records)} SPF records on {domain}: receivers "
                       "treat that as an error; merge them into one")
    record = records[0]
    if include and f"include:{include}" not in record.lower():
        return Finding("SPF", False, f"the SPF record of {domain} does not include {include}: "
                       f"add include:{include} before the all")
    if "+all" in record.split():
        return Finding("SPF", False, f"the SPF record of {domain} ends in +all (anyone may send "
                       "as you): end it with ~all or -all")
    return Finding("SPF", True, f"SPF of {domain} includes {include or 'a sender'}")


def _dkim(domain: str, provider: str, selectors: tuple[str, ...], txt: Txt) -> Finding:
    names = selectors or DKIM_SELECTORS.get(provider, ())
    for selector in names:
        for record in txt(f"{selector}._domainkey.{domain}"):
            fields = dict(p.strip().split("=", 1) for p in record.split(";") if "=" in p)
            if fields.get("p", "").strip():
                return Finding("DKIM", True, f"DKIM key found at {selector}._domainkey.{domain}")
    how = {"gmail": "turn on DKIM in the Google Admin console (Apps > Google Workspace > Gmail > "
                    "Authenticate email) and publish its TXT record",
           "microsoft": "enable DKIM for the domain in Microsoft Defender (Email authentication "
                        "settings) and publish its two CNAME records"}.get(
        provider, "publish your provider's DKIM key")
    tried = ", ".join(f"{s}._domainkey.{domain}" for s in names) or "no selector"
    return Finding("DKIM", False, f"no DKIM key ({tried}): {how}")


def _dmarc(domain: str, txt: Txt) -> Finding:
    records = [r for r in txt(f"_dmarc.{domain}") if r.lower().startswith("v=dmarc1")]
    if not records:
        return Finding("DMARC", False, f"no DMARC record: publish TXT at _dmarc.{domain}: "
                       f"\"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\" (Gmail, Yahoo and "
                       "Outlook.com require one of bulk senders)")
    fields = {k.strip().lower(): v.strip() for k, _, v in
              (p.partition("=") for p in records[0].split(";")) if k.strip()}
    policy = fields.get("p", "")
    if policy not in ("none", "quarantine", "reject"):
        return Finding("DMARC", False, f"the DMARC record of {domain} has no valid p= policy: "
                       "set p=none (then quarantine once reports are clean)")
    return Finding("DMARC", True, f"DMARC policy p={policy}"
                   + (" (monitoring only)" if policy == "none" else ""))


def check_domain(domain: str, provider: str, txt: Txt,
                 selectors: tuple[str, ...] = ()) -> list[Finding]:
    """SPF, DKIM and DMARC of a sending domain, each with what to fix."""
    domain = domain.strip().lower()
    return [_spf(domain, provider, txt), _dkim(domain, provider, selectors, txt),
            _dmarc(domain, txt)]
