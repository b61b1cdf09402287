"""IPv4 addresses, ranges and networks as the billing and the config write them.

Stdlib only, so that both the config (validating ``skip_delete_ip``, ``ip_gray_net``,
``ip_white_net``) and the IP/MAC diff (:mod:`usm_billing.sync.ips`) can use it. Addresses
are unsigned inet_aton integers, as UserSide keys them (universal-api.md §3.13, §4.4–4.5).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "MAX_IP",
    "MIRROR_DEFAULT_PREFIX",
    "parse_ip",
    "parse_ip_range",
    "parse_net",
    "split_ranges",
]

MAX_IP = 0xFFFFFFFF
MIRROR_DEFAULT_PREFIX = 16  # "a block of ~65 000 addresses" (universal-api.md §4.4)

_DIGITS = re.compile(r"^\d+$")


def parse_ip(value: Any) -> int:
    """An IPv4 address as its unsigned inet_aton integer, or 0 for none/invalid.

    Accepts a JSON number, a numeric string (spec §3.13, §4.6.7) or a dotted quad.
    """
    if value is None or isinstance(value, (bool, dict, list)):
        return 0
    if isinstance(value, float):
        if not value.is_integer():
            return 0
        value = int(value)
    if isinstance(value, int):
        return value if 0 < value <= MAX_IP else 0
    text = str(value).strip()
    if _DIGITS.match(text):
        number = int(text)
        return number if 0 < number <= MAX_IP else 0
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return 0


def _address(text: str) -> int:
    text = text.strip()
    if _DIGITS.match(text) and int(text) <= MAX_IP:
        return int(text)
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        msg = f"`{text}` is not an IPv4 address"
        raise ValueError(msg) from None


def parse_ip_range(text: str) -> tuple[int, int]:
    """``skip_delete_ip`` range as ``(first, last)`` integers, both included.

    Forms: CIDR ``10.0.0.0/8``, ``a.b.c.d-e.f.g.h``, ``first-last`` inet_aton integers, or a
    single address. Raises :class:`ValueError` with the reason.
    """
    text = text.strip()
    if "/" in text:
        try:
            net = ipaddress.IPv4Network(text, strict=False)
        except ValueError as err:
            msg = f"`{text}` is not a CIDR network ({err})"
            raise ValueError(msg) from None
        return int(net.network_address), int(net.broadcast_address)
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first, last = _address(first_text), _address(last_text)
        if first > last:
            msg = f"`{text}`: the first address is after the last one"
            raise ValueError(msg)
        return first, last
    single = _address(text)
    return single, single


def parse_net(text: str) -> tuple[int, int]:
    """``ip_gray_net``/``ip_white_net`` as ``(first address, size)``; without a prefix
    length the network is a /16 (a block of 65 536 addresses)."""
    text = text.strip()
    if "/" not in text:
        text = f"{text}/{MIRROR_DEFAULT_PREFIX}"
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as err:
        msg = f"`{text}` is not an IPv4 network ({err})"
        raise ValueError(msg) from None
    return int(net.network_address), net.num_addresses


def split_ranges(items: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """Every range of ``skip_delete_ip`` (an item may itself be comma separated)."""
    ranges = []
    for item in items:
        for part in str(item).split(","):
            if part.strip():
                ranges.append(parse_ip_range(part))
    return tuple(ranges)
