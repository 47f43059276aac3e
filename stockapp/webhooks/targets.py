"""Where a webhook may be sent: the URL's rules, and the addresses refused.

A receiver's URL is checked when a subscription is made or changed, and its
name is resolved again at every delivery (DNS can change between the two): a
name with any address on loopback, a private or shared network, link-local,
multicast or otherwise not global is refused, unless
``WEBHOOKS_ALLOW_PRIVATE=1`` (a receiver on the LAN, and the tests). The
delivery connects to the address that was checked, never resolving twice.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from .models import MAX_URL_LENGTH

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[Any]]
DEFAULT_PORTS = {"https": 443, "http": 80}


class RefusedTarget(Exception):
    """A receiver the server will not send to; the message says why."""


def url_problem(url: Any, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a receiver's URL, or None."""
    if not isinstance(url, str):
        return "must be a string"
    if not 1 <= len(url) <= MAX_URL_LENGTH:
        return f"must be 1 to {MAX_URL_LENGTH} characters"
    if any(unicodedata.category(char) in ("Cc", "Cs", "Zs") for char in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return "must be an absolute http(s) URL"
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        if parts.scheme == "http":
            return (
                "must be https (plain http only with WEBHOOKS_ALLOW_PRIVATE=1,"
                " for a receiver on the LAN)"
            )
        return f"must be an absolute {' or '.join(schemes)} URL with a host name"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if parts.fragment:
        return "must not have a #fragment"
    literal = _literal_address(parts.hostname)
    if literal is not None and not allow_private and (why := refusal(literal)):
        return f"names {why}"
    return None


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(address: Address) -> str | None:
    """Why ``address`` may not receive webhooks (without WEBHOOKS_ALLOW_PRIVATE),
    or None if it is a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind, is_kind in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
    ):
        if is_kind:
            return f"a {kind} address ({address})"
    if not address.is_global:
        return f"an address that is not global ({address})"
    return None


def target(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, its host name and its port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts, host, parts.port or DEFAULT_PORTS[parts.scheme]


def resolve(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[tuple[int, str]]:
    """(family, address) of each address ``host`` resolves to, or RefusedTarget
    if it resolves to none or (without ``allow_private``) any is refused."""
    try:
        found = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise RefusedTarget(f"{host} does not resolve: {error}") from error
    addresses: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0]).partition("%")[0]
        if not allow_private and (why := refusal(ipaddress.ip_address(address))):
            raise RefusedTarget(f"{host} resolves to {why}")
        if (family, address) not in addresses:
            addresses.append((family, address))
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address")
    return addresses
