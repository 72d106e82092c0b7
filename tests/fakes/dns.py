"""A fake DNS TXT lookup for the sender authentication check (never the network): RECORDS maps
a name to its TXT strings, as dnspython's answers give them joined. Named by the
DNS_TXT_RESOLVER setting as "tests.fakes.dns:txt"."""

from __future__ import annotations

RECORDS: dict[str, list[str]] = {
    # A well set up Google Workspace domain.
    "good.test": ["google-site-verification=abc", "v=spf1 include:_spf.google.com ~all"],
    "google._domainkey.good.test": ["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIB"],
    "_dmarc.good.test": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@good.test"],
    # A Microsoft 365 domain with SPF only, and it does not include Microsoft.
    "acme.test": ["v=spf1 include:mailgun.org -all"],
}


def txt(name: str) -> list[str]:
    return list(RECORDS.get(name.lower().rstrip("."), []))
