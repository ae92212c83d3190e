"""The caller's IP address, believing X-Forwarded-For only from trusted proxies.

Behind a load balancer the TCP peer is the balancer, so every client would share one
address (and one rate limit). A proxy listed in TRUSTED_PROXIES appends the address it
saw to X-Forwarded-For; reading that header from right to left and skipping trusted
proxies gives the first address no trusted party vouches against. Anything a client
wrote there itself sits further left and is never used. With no trusted proxies the
header is ignored entirely, since anyone can send it.

Behind CloudFront, X-Forwarded-For ends with the edge's address, so every viewer of
one edge would share a rate limit. CloudFront instead states the viewer in its own
header (``CloudFront-Viewer-Address: 203.0.113.7:4711``, IPv6 unbracketed, so the
port follows the last ':'). CLIENT_IP_HEADER names such a header; it is believed only
when the TCP peer is a trusted proxy, and a value that is not IP:port is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from fastapi import Request

Networks = Sequence[IPv4Network | IPv6Network]


def parse_networks(entries: Sequence[str]) -> list[IPv4Network | IPv6Network]:
    return [ip_network(entry, strict=False) for entry in entries]


def client_ip(request: Request, trusted: Networks, address_header: str = "") -> str:
    peer = request.client.host if request.client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    if address_header:
        viewer = _address_without_port(request.headers.get(address_header, ""))
        if viewer is not None:
            return viewer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _is_trusted(hop, trusted):
            return hop if _is_ip(hop) else peer
    return peer


def _address_without_port(value: str) -> str | None:
    """``IP:port`` -> IP (IPv6 unbracketed: the port follows the last ':'); else None."""
    host, separator, port = value.strip().rpartition(":")
    if not separator or not port.isdigit() or not _is_ip(host):
        return None
    return str(ip_address(host))


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Networks) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)
