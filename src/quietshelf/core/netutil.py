"""Helpers for request metadata that must not identify a person (PRV-LOG-1)."""

from __future__ import annotations

import ipaddress


def truncate_ip(raw: str | None) -> str:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6."""
    if not raw:
        return "-"
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return "-"
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network.network_address)


def _trusted_networks() -> list:
    from django.conf import settings

    return [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in getattr(settings, "QUIETSHELF_TRUSTED_PROXIES", [])
    ]


def _is_trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip(request) -> str:
    """The client's address, as the rate limits and lock-outs must see it.

    Behind a reverse proxy every request comes from the proxy; only when the
    connection comes from a configured trusted proxy is X-Forwarded-For
    believed, read from the right (the hop the proxy itself added) past any
    other trusted hops. A client cannot spoof it by sending its own header.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _trusted_networks()
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = [
        hop.strip()
        for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if hop.strip()
    ]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote
    return remote
