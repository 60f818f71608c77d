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


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")
