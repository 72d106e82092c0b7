"""The fake DNS: a server on 127.0.0.1 (UDP) answering MX queries from a dict, which the launch's
MX check talks to with dnspython over the real wire format; and the TXT records the sender
authentication check reads (DNS_TXT_RESOLVER = "tests.fakes.dns:txt"). Never the network."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@contextmanager
def fake_dns(mx: dict[str, str]) -> Iterator[str]:
    """Serve `mx` (domain -> mail host); every other name is NXDOMAIN. Yields "host:port"."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if name in mx and question.rdtype == dns.rdatatype.MX:
                reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "MX",
                                                        f"10 {mx[name]}."))
            elif name not in mx:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()




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
