"""A tiny authoritative DNS server over UDP for Autodiscover tests (dnspython messages).

It answers A and SRV questions from a fixed table, an empty NOERROR answer for a
name it knows with no record of the asked type (AAAA, say), and NXDOMAIN for any
other name; every question is logged as ``(name, type)``. It is meant to run on
port 53 of a private network namespace whose ``/etc/resolv.conf`` points at it,
so the system resolver and dnspython both ask it.
"""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer:
    """Answers from ``records``: ``{(name, type): [rdata text, ...]}`` (names without the dot)."""

    def __init__(self, records: dict[tuple[str, str], list[str]], port: int = 53) -> None:
        self.records = {(n.lower().rstrip("."), t.upper()): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.questions: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(wire), peer)
            except Exception:  # a question it cannot parse is dropped, as a real server may
                continue

    def answer(self, wire: bytes) -> bytes:
        """The response to the query ``wire``."""
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for q in query.question:
            name = q.name.to_text().lower().rstrip(".")
            kind = dns.rdatatype.to_text(q.rdtype)
            self.questions.append((name, kind))
            if name not in self.names:
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            values = self.records.get((name, kind))
            if values:
                response.answer.append(dns.rrset.from_text_list(q.name, 60, "IN", kind, values))
        return response.to_wire()

    def close(self) -> None:
        """Stop answering."""
        self.sock.close()
